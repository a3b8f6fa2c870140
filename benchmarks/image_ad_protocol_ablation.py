"""Deep SVDD on one MNIST class under the official code's protocol instead of image-ad's.

``image-ad`` holds a tenth of the normal class out for the validation loss and keeps the
parameters with the lowest one. The official code (github.com/lukasruff/Deep-SVDD-PyTorch)
trains on every training image of the class and keeps the last epoch's. This script runs
``deep-svdd[cnn]`` with the suite's full budget (150 + 150 epochs) and preprocessing, the
hold-out put back into training (so there is no validation split and the last epoch's
parameters are kept), and prints the test AUROC, to set beside the suite's cell of the same
class and seed.

Usage: ZOO_DATA_DIR=../shared/data OMP_NUM_THREADS=1 \
    python benchmarks/image_ad_protocol_ablation.py --classes 2,5 --seed 0
"""

from __future__ import annotations

import argparse
import time


def run(normal: int, seed: int, epochs: int) -> float:
    """Test AUROC of ``deep-svdd[cnn]`` trained on every training image of class ``normal``."""
    from sklearn.metrics import roc_auc_score

    from zoo import create_model
    from zoo.plugins import get_host
    from zoo.suites.common import with_validation_in_training
    from zoo.suites.image_ad import ImageAnomalySuite, one_class_splits
    from zoo.training import TrainConfig

    dataset = ImageAnomalySuite(get_host()).load("mnist")
    splits = with_validation_in_training(one_class_splits(dataset, normal, seed))
    model = create_model("deep-svdd[cnn]", splits.info, seed=seed)
    model.fit(splits, TrainConfig(seed=seed, max_epochs=epochs))
    return float(roc_auc_score(splits.test.y, model.score(splits.test.x).numpy()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9",
                        help="normal classes, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=150,
                        help="epochs of pretraining and of training (the full budget's 150)")
    args = parser.parse_args()
    for normal in (int(text) for text in args.classes.split(",")):
        started = time.monotonic()
        auroc = run(normal, args.seed, args.epochs)
        print(f"class {normal} seed {args.seed}: every training image, last epoch: "
              f"AUROC {auroc:.4f} ({time.monotonic() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
