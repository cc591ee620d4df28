"""Size limits shared by validation and the SQL schema (the same as MLflow's)."""

KEY_LENGTH = 250
NAME_LENGTH = 256
PARAM_VALUE_LENGTH = 6000
TAG_VALUE_LENGTH = 8000
ARTIFACT_PATH_LENGTH = 1024

# The most experiments one search page may return.
MAX_EXPERIMENT_PAGE = 50_000

# Run and experiment searches: the page size when none is asked for, and the largest page.
DEFAULT_SEARCH_MAX_RESULTS = 1_000
MAX_SEARCH_RESULTS = 50_000
