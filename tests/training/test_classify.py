import numpy as np
import pytest

from productlens.training.classify import Replay, category_probs, choose_recognition

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
    fold = Replay(val, val_labels, product_proxies, np.arange(4), product_proxies, wrong_category_proxies,
                  product_category[val_labels])
    out = choose_recognition([fold], 16.0, product_category)
    assert out.coarse_mode in ("products", "both")  # ties go to "both"
    assert out.val_top1["knn"] == pytest.approx(1.0)


def test_recognition_is_calibrated_on_known_and_left_out_products():
    """Four well-separated products: the mode is chosen, and a photo whose product is left out gets
    a lower confidence than one whose product is there."""
    rng = np.random.default_rng(1)
    centres = np.eye(4, 16)
    gallery_labels = np.repeat(np.arange(4), 6)
    gallery = centres[gallery_labels] + 0.3 * rng.standard_normal((24, 16))
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    val_labels = np.repeat(np.arange(4), 10)
    val = centres[val_labels] + 0.3 * rng.standard_normal((40, 16))
    val /= np.linalg.norm(val, axis=1, keepdims=True)
    recognizer = choose_recognition([Replay(val, val_labels, gallery, gallery_labels, centres)], 16.0)
    assert recognizer.mode in ("classifier", "knn", "blend")
    assert recognizer.calibration.fitted and recognizer.calibration.known_queries == 40
    assert recognizer.calibration.unknown_queries == 40
    assert recognizer.calibration.unknown_reject_rate > 0.5 and recognizer.calibration.known_accept_rate > 0.5
