"""The shipped store contract (perennia.testing.store_contract), run here on SQLite, PostgreSQL
and the REST store against a live server with sign-in on: tests/conftest.py's `store` fixture
is parametrized over the three, and every contract test below runs once per backend."""

from perennia.testing.store_contract.test_alerts import *  # noqa: F403
from perennia.testing.store_contract.test_automation import *  # noqa: F403
from perennia.testing.store_contract.test_datasets import *  # noqa: F403
from perennia.testing.store_contract.test_deployments import *  # noqa: F403
from perennia.testing.store_contract.test_experiments import *  # noqa: F403
from perennia.testing.store_contract.test_metric_downsampling import *  # noqa: F403
from perennia.testing.store_contract.test_metrics import *  # noqa: F403
from perennia.testing.store_contract.test_model_cards import *  # noqa: F403
from perennia.testing.store_contract.test_monitor_leases import *  # noqa: F403
from perennia.testing.store_contract.test_monitors import *  # noqa: F403
from perennia.testing.store_contract.test_params_tags import *  # noqa: F403
from perennia.testing.store_contract.test_registry import *  # noqa: F403
from perennia.testing.store_contract.test_registry_deployments import *  # noqa: F403
from perennia.testing.store_contract.test_runs import *  # noqa: F403
from perennia.testing.store_contract.test_search_pages import *  # noqa: F403
from perennia.testing.store_contract.test_search_runs import *  # noqa: F403
