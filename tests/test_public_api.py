import subprocess
import sys

import productlens


def test_all_names_exist_and_are_documented():
    for name in productlens.__all__:
        obj = getattr(productlens, name)
        if name != "__version__":
            assert obj.__doc__, f"{name} has no docstring"


def test_exception_tree_is_rooted():
    for name in productlens.__all__:
        obj = getattr(productlens, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, productlens.ProductLensError)


def test_import_is_cheap():
    code = "import sys, productlens, productlens.cli; print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_error_of_the_tree_is_exported():
    import productlens.errors

    tree = {name for name, obj in vars(productlens.errors).items()
            if isinstance(obj, type) and issubclass(obj, productlens.ProductLensError)}
    assert {"NotAFileError", "ReadTimeoutError", "StorageError", "CatalogBusyError"} <= tree
    assert tree <= set(productlens.__all__), f"not exported: {sorted(tree - set(productlens.__all__))}"
