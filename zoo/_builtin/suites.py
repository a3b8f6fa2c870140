"""The core's shared benchmark suites, with the metadata that lists them and prints their
leaderboards without importing them."""

from __future__ import annotations

from collections.abc import Callable

from zoo.plugins import hookimpl
from zoo.plugins.specs import SuiteSpec


@hookimpl
def zoo_register_suites(register: Callable[[SuiteSpec], None]) -> None:
    register(SuiteSpec(
        name="supervised",
        implementation="zoo.suites.supervised:SupervisedSuite",
        tasks=("classify", "regress"),
        modalities=("tabular", "image"),
        version="2",  # 2: models without model selection train on the validation rows too
        metrics=(("accuracy", True), ("cross_entropy", False), ("r2", True), ("mse", False)),
        summary="Classification and regression: best-validation model, held-out test split",
    ))
    register(SuiteSpec(
        name="tabular-ad",
        implementation="zoo.suites.detection:TabularAnomalySuite",
        tasks=("detect",),
        modalities=("tabular",),
        version="1",
        metrics=(("auroc", True), ("auprc", True)),
        summary="ADBench tables under the semi / unsup / 60-40 protocols, published rows beside",
    ))
    register(SuiteSpec(
        name="embedded-ad",
        implementation="zoo.suites.detection:EmbeddedAnomalySuite",
        tasks=("detect",),
        modalities=("tabular",),
        version="2",  # 2: models without model selection train on the validation rows too
        metrics=(("auroc", True), ("auprc", True)),
        summary="Anomaly detection on scikit-learn's bundled tables, no download",
    ))
    register(SuiteSpec(
        name="image-ad",
        implementation="zoo.suites.image_ad:ImageAnomalySuite",
        tasks=("detect",),
        modalities=("image",),
        version="1",
        metrics=(("auroc", True), ("auprc", True)),
        columns="setting",  # a column per normal class
        summary="One-class image anomaly detection (Deep SVDD protocol), AUROC per class",
    ))
    register(SuiteSpec(
        name="image-gen",
        implementation="zoo.suites.image_gen:ImageGenerationSuite",
        tasks=("generate",),
        modalities=("image",),
        version="1",
        metrics=(("fid", False), ("kid", False), ("nll", False), ("bpd", False)),
        floors={"fid": "fid_floor", "kid": "kid_floor"},
        summary="Image generation: FID / KID in a reference classifier's features, NLL",
    ))
    register(SuiteSpec(
        name="text-gen",
        implementation="zoo.suites.text_gen:TextGenerationSuite",
        tasks=("generate",),
        modalities=("text",),
        version="1",
        metrics=(("loss", False), ("bpc", False)),
        summary="Character language modelling (nanoGPT's 90/10 split): nats and bits per "
                "character, samples",
    ))
    register(SuiteSpec(
        name="ts-ad",
        implementation="zoo.suites.ts_ad:TimeSeriesAnomalySuite",
        tasks=("detect",),
        modalities=("timeseries",),
        version="1",
        metrics=(("auroc", True), ("auprc", True), ("event_f1", True),
                 ("event_precision", True), ("event_recall", True)),
        columns="setting",  # a column per NAB category
        summary="NAB series: trained on each one's probation, AUROC / AUPRC and event-level F1 "
                "per category",
    ))
