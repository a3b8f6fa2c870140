"""Deep SVDD on one MNIST class under the hold-out protocol instead of the official code's.

``image-ad`` trains ``deep-svdd[cnn]`` as the official code (github.com/lukasruff/
Deep-SVDD-PyTorch) does: on every training image of the normal class, with no epoch chosen
on held-out data (its ``uses_validation=False`` default on images). This script trains the
same model with ``uses_validation=True``: a tenth of the class, drawn with the seed as the
suite draws it, is held out and the parameters (of pretraining and of training) with the
lowest loss on it are kept. It uses the suite's full budget (150 + 150 epochs) and
preprocessing and prints the test AUROC, to set beside the suite's cell of the same class and
seed.

Usage: ZOO_DATA_DIR=../shared/data OMP_NUM_THREADS=1 \
    python benchmarks/image_ad_protocol_ablation.py --classes 2,5 --seed 0
"""

from __future__ import annotations

import argparse
import time


def run(normal: int, seed: int, epochs: int) -> float:
    """Test AUROC of ``deep-svdd[cnn]`` with a validation hold-out of class ``normal``."""
    from sklearn.metrics import roc_auc_score

    from zoo import create_model
    from zoo.plugins import get_host
    from zoo.suites.image_ad import ImageAnomalySuite, one_class_splits
    from zoo.training import TrainConfig

    dataset = ImageAnomalySuite(get_host()).load("mnist")
    splits = one_class_splits(dataset, normal, seed)
    model = create_model("deep-svdd[cnn]", splits.info, seed=seed, uses_validation=True)
    model.fit(splits, TrainConfig(seed=seed, max_epochs=epochs, patience=None))
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
        print(f"class {normal} seed {args.seed}: tenth held out, lowest validation loss: "
              f"AUROC {auroc:.4f} ({time.monotonic() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
