"""``zoo export``: a trained run as a deployable package (docs/serving.md)."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli.common import DB_OPTION, JSON_HELP, _echo_json, _open_store


@click.command("export")
@click.argument("run")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new (or empty) directory for the package.")
@click.option("--onnx", "with_onnx", is_flag=True,
              help="Also export the evaluate hooks to ONNX (parity checked on validation rows).")
@click.option("--fpr", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True,
              help="A detector's threshold lets this share of normal validation rows through "
                   "as anomalous.")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def export_command(run: str, out: Path, with_onnx: bool, fpr: float, db: Path | None,
                   as_json: bool) -> None:
    """Write the package of RUN (a run id or a checkpoint directory) to --out: safetensors
    weights and a sealed JSON card (shapes, preprocessing, vocabulary, metrics, versions, a
    detector's validation threshold), and with --onnx the ONNX graphs."""
    from zoo.models.checkpoints import read_card
    from zoo.serving.package import export_package

    with _open_store(db) as store:
        directory = export_package(store, run, out, onnx=with_onnx, fpr=fpr)
    package = read_card(directory)["package"]
    if as_json:
        _echo_json({"package": str(directory), **package})
        return
    click.echo(f"package {directory}: serves {', '.join(package['hooks'])}")
    threshold = package.get("threshold")
    if threshold and threshold.get("value") is not None:
        click.echo(f"  threshold {threshold['value']:.6g} (false-positive rate "
                   f"{threshold['false_positive_rate']} on {threshold['rows']} validation rows)")
    if "onnx" in package:
        parity = package["onnx"]["parity"]
        click.echo(f"  onnx opset {package['onnx']['opset']}: "
                   + ", ".join(f"{hook} max |onnx - eager| {diff:.2g}"
                               for hook, diff in parity["max_abs_diff"].items())
                   + f" on {parity['rows']} validation rows")
