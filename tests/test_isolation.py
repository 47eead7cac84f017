"""The suite owns its services: a Redis and a PostgreSQL of its own, never the machine's.

`foreign_sentinels` (tests/conftest.py) plants a sentinel key in databases 0, 14 and 15 of whatever
Redis answers on 127.0.0.1:6379 and a sentinel database on whatever PostgreSQL answers on
127.0.0.1:5432 before the first test, and fails the run at its end if any of them changed. The last
test here plants sentinels of its own, drives the suite's services the way the other tests do
(flush, create and drop databases, a live server counting a rate limit in Redis) and checks them
right after.
"""
import os
import uuid
from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.conftest import API_KEY, ForeignSentinels, LiveServer, suite_postgres_wanted


def test_the_suites_redis_is_its_own(redis_service):
    assert redis_service.port != 6379
    config = redis_service.client().config_get("dir")
    assert Path(config["dir"]).resolve() == redis_service.dir.resolve()
    assert redis_service.client().config_get("save") == {"save": ""}  # nothing is written to disk


def test_the_suites_postgres_is_its_own(postgres_cluster):
    import psycopg

    assert postgres_cluster.port != 5432
    with psycopg.connect(postgres_cluster.url("postgres")) as pg:
        [(data_directory,)] = pg.execute("SHOW data_directory").fetchall()
    assert Path(data_directory).resolve() == postgres_cluster.data.resolve()


@pytest.mark.django_db
def test_the_postgres_run_uses_the_suites_own_cluster(suite_database):
    if not suite_postgres_wanted():
        pytest.skip("the SQLite run (FINTALK_TEST_POSTGRES=1 runs the suite on a cluster of its own)")
    assert connection.vendor == "postgresql"
    assert int(connection.settings_dict["PORT"]) == suite_database.port != 5432
    assert os.environ["DATABASE_URL"] == suite_database.url("fintalk")


@pytest.fixture
def fresh_sentinels():
    """Sentinels of this test alone (the session's are checked at the end of the run)."""
    sentinels = ForeignSentinels()
    sentinels.plant()
    yield sentinels
    sentinels.remove()


def test_using_the_suites_services_leaves_the_machines_untouched(fresh_sentinels, redis_service, postgres_cluster,
                                                                 tmp_path):
    if not fresh_sentinels.redis and not fresh_sentinels.postgres:
        pytest.skip("nothing answers on 127.0.0.1:6379 or 127.0.0.1:5432: no one else's data to protect here")
    for db in (0, 14, 15):  # what the tests used to flush on the machine's Redis
        redis_service.client(db).set("fintalk:probe", "x")
        redis_service.client(db).flushdb()
    name = f"fintalk_probe_{uuid.uuid4().hex[:8]}"
    postgres_cluster.create_database(name)
    postgres_cluster.drop_database(name)
    server = LiveServer(tmp_path, {"FINTALK_CACHE_URL": redis_service.url(4), "FINTALK_RATE_LIMIT": "100/m",
                                   "FINTALK_LLM": "demo"}).start()
    try:
        response = httpx.get(server.url + "/api/models", headers={"Authorization": f"Bearer {API_KEY}"})
        assert response.status_code == 200
        assert any(key.startswith(b":1:fintalk:throttle:") for key in redis_service.client(4).keys())
    finally:
        server.stop()
    assert fresh_sentinels.problems() == []
