"""stripelake, daily, one task per stage.

Each task runs the stripelake binary and maps its documented exit codes (README "Exit codes")
onto Airflow's outcomes:

    0   success
    1   partial failure: some streams or models failed, the rest committed  -> fail, no retry
    2   configuration or usage                                              -> fail, no retry
    3   authentication (revoked or wrong key)                               -> fail, no retry
    4   missing permission                                                  -> fail, no retry
    5   transient failure after the binary's own retries                    -> Airflow retries
    99  nothing to do ([run] exit_99_when_nothing_to_do = true)             -> skipped

The data interval (the day that just ended) reaches the binary as `--as-of` (the last day the
marts cover). Extraction is
incremental from its own cursors, so a retried or re-run interval never loses or doubles a row.

After the models, `digest` posts the day's numbers (`stripelake digest --format slack`) to the
Slack incoming webhook of the Airflow connection `stripelake_slack` (or the one named by
STRIPELAKE_SLACK_CONN_ID): the webhook URL is the connection's password (or host), so the secret
lives in Airflow's connections or secrets backend, never in this repository (a plain HTTPS POST:
no Slack provider needed). No such connection: the digest goes to the task log and the task is
skipped.

Environment the tasks read (set them on the worker or in the task's `env`):
    STRIPELAKE_BIN       path to the binary (default: `stripelake` on PATH)
    STRIPE_API_KEY       the restricted key (or the variable named by [stripe] api_key_env)
    STRIPELAKE_CONFIG    pipeline.toml (optional), STRIPELAKE_STORAGE / STRIPELAKE_API_BASE
    STRIPELAKE_VISITORS  the web-analytics export (path, glob or store URL), unless in pipeline.toml
"""

import json
import os
import subprocess
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from airflow.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSkipException,
)

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator

TRANSIENT = 5
NOTHING_TO_DO = 99


SLACK_CONNECTION = os.environ.get("STRIPELAKE_SLACK_CONN_ID", "stripelake_slack")


def command(*args):
    binary = os.environ.get("STRIPELAKE_BIN", "stripelake")
    return [binary, "--log-format", "json", *args]


def run_stage(*args, **context):
    """Runs `stripelake --log-format json <args>`; the JSON logs go to the task log."""
    line = command(*args)
    print("running:", " ".join(line), flush=True)
    raise_for(subprocess.run(line, check=False).returncode)


def raise_for(code):
    """The Airflow outcome of an exit code."""
    if code == 0:
        return
    if code == NOTHING_TO_DO:
        raise AirflowSkipException("stripelake: nothing to do")
    if code == TRANSIENT:
        raise AirflowException("stripelake: transient failure (exit 5), Airflow retries")
    raise AirflowFailException(f"stripelake exited {code}: see the log above; retrying will not help")


def webhook_url():
    """The Slack webhook URL from the Airflow connection, or None when there is none."""
    try:
        from airflow.sdk import BaseHook  # Airflow 3
    except ImportError:  # Airflow 2
        from airflow.hooks.base import BaseHook
    try:
        conn = BaseHook.get_connection(SLACK_CONNECTION)
    except AirflowNotFoundException:
        # Only a missing connection skips: a secrets backend that is down raises, and retries.
        print(f"no Airflow connection `{SLACK_CONNECTION}`: not posting")
        return None
    for value in (conn.password, conn.host):
        if value and value.startswith(("https://", "http://")):
            return value
    raise AirflowFailException(
        f"connection `{SLACK_CONNECTION}` has no webhook URL: put the Slack incoming-webhook URL "
        "in its password (or host)"
    )


def post_digest(ds, **context):
    """`stripelake digest --format slack` for the interval's day, posted to Slack."""
    line = command("digest", "--format", "slack", "--as-of", ds)
    print("running:", " ".join(line), flush=True)
    done = subprocess.run(line, check=False, capture_output=True, text=True)
    print(done.stderr, end="", flush=True)
    raise_for(done.returncode)
    payload = json.loads(done.stdout)
    print(payload["text"])
    url = webhook_url()
    if url is None:
        print(done.stdout)
        raise AirflowSkipException(f"no `{SLACK_CONNECTION}` connection: the digest is in the log")
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            print(f"posted the digest to Slack ({answer.status})")
    except urllib.error.HTTPError as e:
        # 429/408 and 5xx: Slack, retry; any other 4xx: the webhook is wrong or revoked (a
        # person must fix it).
        if e.code >= 500 or e.code in (408, 429):
            raise AirflowException(f"Slack failed: {e.code} {e.reason}")
        raise AirflowFailException(f"Slack refused the digest: {e.code} {e.reason}")
    except (urllib.error.URLError, TimeoutError) as e:
        raise AirflowException(f"cannot reach Slack: {e}")


with DAG(
    dag_id="stripelake",
    description="Stripe -> Parquet lake -> revenue, MRR and KPI marts",
    # A run covers the day that just ended: `ds` is that day (the data interval's start) under
    # Airflow 2 and 3 alike. (Airflow 3's plain "@daily" is a trigger timetable whose `ds` is
    # the run's own, unfinished day: the models would refuse it.)
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5), "retry_exponential_backoff": True},
    tags=["stripe", "revenue"],
) as dag:
    extract = PythonOperator(
        task_id="extract",
        python_callable=run_stage,
        op_args=["extract"],
    )
    # The export named by [visitors] source or STRIPELAKE_VISITORS; files loaded before are
    # skipped, so a re-run loads nothing twice. Without a source it succeeds with status skipped.
    load_visitors = PythonOperator(
        task_id="load_visitors",
        python_callable=run_stage,
        op_args=["load-visitors"],
    )
    # A skipped load_visitors (exit 99: no new export) must not skip the models.
    transform = PythonOperator(
        task_id="transform",
        python_callable=run_stage,
        op_args=["transform", "--as-of", "{{ ds }}"],
        trigger_rule="none_failed",
    )
    # The day's numbers to Slack (skipped without the connection). The marts are committed
    # before it runs, so a failed post fails this task and the run, not the data.
    digest = PythonOperator(
        task_id="digest",
        python_callable=post_digest,
    )
    extract >> load_visitors >> transform >> digest
