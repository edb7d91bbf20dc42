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

The data interval reaches the binary as `--as-of` (the last day the marts cover). Extraction is
incremental from its own cursors, so a retried or re-run interval never loses or doubles a row.

Environment the tasks read (set them on the worker or in the task's `env`):
    STRIPELAKE_BIN       path to the binary (default: `stripelake` on PATH)
    STRIPE_API_KEY       the restricted key (or the variable named by [stripe] api_key_env)
    STRIPELAKE_CONFIG    pipeline.toml (optional), STRIPELAKE_STORAGE / STRIPELAKE_API_BASE
    STRIPELAKE_VISITORS  the web-analytics export (path, glob or store URL), unless in pipeline.toml
"""

import os
import subprocess
from datetime import datetime, timedelta

from airflow import DAG
from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:  # Airflow 2
    from airflow.operators.python import PythonOperator

TRANSIENT = 5
NOTHING_TO_DO = 99


def run_stage(*args, **context):
    """Runs `stripelake --log-format json <args>`; the JSON logs go to the task log."""
    binary = os.environ.get("STRIPELAKE_BIN", "stripelake")
    command = [binary, "--log-format", "json", *args]
    print("running:", " ".join(command), flush=True)
    code = subprocess.run(command, check=False).returncode
    if code == 0:
        return
    if code == NOTHING_TO_DO:
        raise AirflowSkipException("stripelake: nothing to do")
    if code == TRANSIENT:
        raise AirflowException("stripelake: transient failure (exit 5), Airflow retries")
    raise AirflowFailException(f"stripelake exited {code}: see the log above; retrying will not help")


with DAG(
    dag_id="stripelake",
    description="Stripe -> Parquet lake -> revenue, MRR and KPI marts",
    schedule="@daily",
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
    extract >> load_visitors >> transform
