"""Device names: spelling checked in the config, availability when a run is about to start."""

import pytest
import torch

from mlplab.config import TrainConfig
from mlplab.training.device import check_device, parse_device


@pytest.mark.parametrize("name", ["meta", "xla", "tpu", "cuda:x", ""])
def test_devices_that_cannot_train_are_refused_in_the_config(name):
    with pytest.raises(ValueError, match="use auto, cpu, cuda or cuda:N"):
        TrainConfig(device=name)


def test_availability_is_checked_when_training_starts():
    assert parse_device("cuda") == "cuda" and TrainConfig(device="mps").device == "mps"  # a saved config loads
    assert check_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_device("cuda:0")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            check_device("mps")
