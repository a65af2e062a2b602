import numpy as np
import pytest

from productlens.training.classify import category_probs, choose_recognition

pytestmark = pytest.mark.fast


def test_category_probs_sum_products_per_category_and_average_with_the_proxies():
    products = np.array([[0.5, 0.2, 0.3, 0.0]])
    proxies = np.array([[0.1, 0.9]])
    product_category = np.array([0, 1, 1, -1])
    assert np.allclose(category_probs("products", proxies, products, product_category, 2), [[0.5, 0.5]])
    assert np.allclose(category_probs("proxies", proxies, products, product_category, 2), proxies)
    assert np.allclose(category_probs("both", proxies, products, product_category, 2), [[0.3, 0.7]])


def test_the_category_mode_is_chosen_on_validation():
    """Category proxies that point the wrong way lose to the products' own categories."""
    rng = np.random.default_rng(0)
    product_proxies = np.eye(4, 8)
    product_category = np.array([0, 0, 1, 1])
    val_labels = np.repeat(np.arange(4), 5)
    val = product_proxies[val_labels] + 0.05 * rng.standard_normal((20, 8))
    val /= np.linalg.norm(val, axis=1, keepdims=True)
    wrong_category_proxies = np.stack([product_proxies[2] + product_proxies[3], product_proxies[0] + product_proxies[1]])
    out = choose_recognition(val, val_labels, product_proxies, np.arange(4), product_proxies, 16.0,
                             (wrong_category_proxies, product_category[val_labels], product_category))
    assert out["coarse_val_top1"]["proxies"] == 0.0
    assert out["coarse_val_top1"]["products"] == pytest.approx(1.0)
    assert out["coarse_mode"] in ("products", "both")  # ties go to "both"
