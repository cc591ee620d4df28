"""Ray Data: `map_batches` with the package's predictor gives the model's own predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from perennia.errors import IntegrityError
from perennia.models.ray_batch import RayPredictor, ray_predictor
from tests.models.batch_helpers import FEATURES, make_rows, save_package

pytestmark = [
    pytest.mark.slow,  # a Ray node starts once per session (about 5 s)
    pytest.mark.xdist_group("ray"),  # ... on one worker only
    # Ray Data's own deprecations, raised inside Ray on every run; the results are checked here.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index"),
]


def _one_actor():
    import ray

    # One actor, so the one CPU the session has is enough (Ray 2.51 deprecates concurrency=).
    return ray.data.ActorPoolStrategy(size=1)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("ray") / "pkg"
    return folder, save_package(folder)


def test_shipped_predictor_gives_direct_predictions_for_every_row(ray_session, package) -> None:
    folder, pipeline = package
    rows = make_rows(1_000, seed=30)
    # Four blocks; a repartition would wait forever for the CPU the predictor actor holds.
    dataset = ray_session.data.from_pandas([rows.iloc[i : i + 250] for i in range(0, 1_000, 250)])

    predictor = ray_predictor(folder, keep=["id"], proba=True)
    scored = dataset.map_batches(
        predictor, batch_format="pandas", batch_size=128, compute=_one_actor()
    ).to_pandas()

    scored = scored.sort_values("id").reset_index(drop=True)
    assert list(scored.columns) == ["id", "proba_0", "proba_1"]
    np.testing.assert_array_equal(scored["id"], rows["id"])
    np.testing.assert_allclose(
        scored[["proba_0", "proba_1"]].to_numpy(dtype=float),
        pipeline.predict_proba(rows[FEATURES]),
        rtol=1e-12,
    )


def test_predictor_class_loads_a_uri_every_worker_can_read(ray_session, package) -> None:
    folder, pipeline = package
    rows = make_rows(300, seed=31)

    scored = (
        ray_session.data.from_pandas(rows)
        .map_batches(
            RayPredictor,
            fn_constructor_args=(str(folder),),
            batch_format="pandas",
            compute=_one_actor(),
        )
        .to_pandas()
        .sort_values("id")
    )

    assert list(scored.columns) == [*rows.columns, "prediction"]
    np.testing.assert_array_equal(scored["prediction"], pipeline.predict(rows[FEATURES]))


def test_a_tampered_package_is_refused_before_anything_is_shipped(
    ray_session, package, tmp_path: Path
) -> None:
    import shutil

    folder, _ = package
    shutil.copytree(folder, tmp_path / "pkg")
    (tmp_path / "pkg" / "model.skops").write_bytes(b"changed")

    with pytest.raises(IntegrityError, match="altered after it was saved"):
        ray_predictor(tmp_path / "pkg")
