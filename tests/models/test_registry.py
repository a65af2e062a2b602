import pytest

from productlens.errors import ModelError, UnknownModelError
from productlens.models import PreprocessConfig, create_embedder, list_embedders
from productlens.models.registry import get_spec, with_crop


def test_lists_the_lite_family():
    # other networks may be registered too (the fast tier registers a tiny one)
    assert {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"} <= set(list_embedders())


@pytest.mark.parametrize("name", list_embedders())
def test_every_spec_carries_its_preprocessing(name):
    spec = get_spec(name)
    assert spec.dim == 1280
    assert spec.preprocess.resize_size > spec.preprocess.input_size


def test_unknown_name_lists_known_ones(tmp_path):
    with pytest.raises(UnknownModelError, match="efficientnet-lite0"):
        create_embedder("resnet-9000", model_dir=tmp_path)


def test_unknown_precision(tmp_path):
    with pytest.raises(ModelError, match="precision"):
        create_embedder(precision="fp8", model_dir=tmp_path)


def test_preprocess_config_round_trip():
    config = PreprocessConfig(input_size=240, resize_size=274, mean=(1.0, 2.0, 3.0))
    assert PreprocessConfig.from_dict(config.to_dict()) == config
    assert PreprocessConfig.from_dict({"input_size": 224, "resize_size": 256}).std == (128.0,) * 3


def test_import_does_not_load_torch():
    import subprocess
    import sys

    code = "import sys, productlens.models, productlens.pipeline; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sized_variant_shares_weights_with_another_crop_size():
    base, sized = get_spec("efficientnet-lite2"), get_spec("efficientnet-lite2@320")
    assert sized.name == "efficientnet-lite2@320" and sized.dim == base.dim and sized.build is base.build
    assert sized.preprocess.input_size == 320
    assert sized.preprocess.resize_size == round(320 * base.preprocess.resize_size / base.preprocess.input_size)
    assert get_spec("efficientnet-lite2@320") is sized and "efficientnet-lite2@320" not in list_embedders()


@pytest.mark.parametrize("name", ["resnet@320", "efficientnet-lite0@big", "efficientnet-lite0@8"])
def test_bad_sized_names_are_unknown(name):
    with pytest.raises(UnknownModelError, match="NAME@SIZE"):
        get_spec(name)


def test_crop_variant_is_another_embedding_space_on_the_same_network():
    base = get_spec("efficientnet-lite0")
    assert base.preprocess.crop == pytest.approx(224 / 256)
    tight = with_crop(base, 0.65)
    assert tight.preprocess.input_size == 224 and tight.preprocess.resize_size == round(224 / 0.65)
    assert tight.preprocess.crop == pytest.approx(0.65, abs=0.002)
    assert tight.build is base.build and tight.name == base.name
    assert tight.version == "imagenet-crop65"  # features with another crop never share a cache key
    assert with_crop(base, None) is base and with_crop(base, 224 / 256) is base
