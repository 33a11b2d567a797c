"""Device names: spelling checked in the config, availability when a run is about to start."""

import pytest
import torch

from mlplab.config import TrainConfig
from mlplab.data.load import load_dataset
from mlplab.models.mlp import MLP
from mlplab.training.device import check_device, parse_device
from mlplab.training.fit import fit

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


@pytest.mark.parametrize("name", ["meta", "xla", "tpu", "cuda:x", ""])
def test_devices_that_cannot_train_are_refused_in_the_config(name):
    from mlplab.settings import resolve

    with pytest.raises(ValueError, match="use auto, cpu, cuda or cuda:N"):
        resolve({"device": name})


def test_a_config_naming_a_device_this_machine_lacks_still_loads():
    """A saved config is read anywhere: the spelling is checked, not the machine."""
    assert parse_device("cuda") == "cuda" and parse_device("cuda:7") == "cuda:7"
    assert TrainConfig(device="mps").device == "mps" and TrainConfig(device="cuda:7").device == "cuda:7"
    assert check_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA, so the error for a machine without it cannot arise")
def test_availability_is_checked_when_training_starts():
    assert check_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device 'cuda:0' asked for, but CUDA is not available here; use --device cpu"):
        check_device("cuda:0")
    with pytest.raises(ValueError, match="CUDA is not available"):  # fit, as it starts: before any step
        fit(MLP(4, [4], 3), load_dataset("iris"), epochs=1, device="cuda")


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device: on a CPU-only machine every cuda:N is refused "
                                         "as unavailable (test_availability_is_checked_when_training_starts)")
def test_a_cuda_index_past_the_last_device_is_refused():
    n = torch.cuda.device_count()
    assert check_device("auto") == torch.device("cuda") and check_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match=rf"this machine has {n} CUDA device\(s\): use cuda:0 to cuda:{n - 1}"):
        check_device(f"cuda:{n}")


@pytest.mark.skipif(HAS_MPS, reason="this machine has Apple's MPS, so the error for a machine without it cannot arise")
def test_mps_is_refused_where_apples_mps_is_absent():
    with pytest.raises(ValueError, match="device 'mps' asked for, but Apple's MPS is not available here"):
        check_device("mps")
