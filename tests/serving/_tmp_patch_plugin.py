import pytest
@pytest.fixture(autouse=True, scope="session")
def _patch_datatypes():
    from perennia.serving.protocols import open_inference as oi
    class D(dict):
        def __contains__(self, k):
            try: return dict.__contains__(self, k)
            except TypeError: return False
    oi.DATATYPES = D(oi.DATATYPES)
    yield
