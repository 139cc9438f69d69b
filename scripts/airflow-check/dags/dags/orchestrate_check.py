"""Sample DAG of the real-Airflow check (scripts/airflow-check/run.py).

`hello` runs on the Celery worker and reads a connection and a variable through the secrets
backend (written by `orchestrate connections|variables set`); `defer` defers to a DateTimeTrigger a few seconds ahead,
so it only succeeds when the triggerer fires the trigger and a worker resumes the task; `bye`
runs after it. Each prints a marker the check reads back through the api-server's log API.
"""

from datetime import datetime, timedelta, timezone

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import DAG, BaseOperator, task


class DeferOnce(BaseOperator):
    """Always defers once (a TimeDeltaSensor returns at once when its moment has passed)."""

    def execute(self, context):
        print("ORCHESTRATE-CHECK deferring to the triggerer")
        self.defer(
            trigger=DateTimeTrigger(moment=datetime.now(timezone.utc) + timedelta(seconds=5)),
            method_name="resume",
        )

    def resume(self, context, event=None):
        print("ORCHESTRATE-CHECK resumed after the trigger fired")


with DAG(
    dag_id="orchestrate_check",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["orchestrate-check"],
):

    @task
    def hello():
        from airflow.sdk import Connection, Variable

        conn = Connection.get("orchestrate_check_conn")
        var = Variable.get("orchestrate_check_var")
        print(f"ORCHESTRATE-CHECK hello from the celery worker; secrets backend: {conn.host} {var}")

    @task
    def bye():
        print("ORCHESTRATE-CHECK bye")

    hello() >> DeferOnce(task_id="defer") >> bye()
