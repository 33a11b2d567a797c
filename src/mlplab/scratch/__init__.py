"""From-scratch twins of mlplab's torch-backed pieces, file for file, with the same names and signatures.

activations, init, dropout, losses, optim, mlp, cnn, rnn: each is plain tensor math (elementwise ops, matmul, sums)
and is tested against its torch twin in float64 (tests/test_scratch_*.py).
"""
