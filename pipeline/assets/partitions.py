"""Projects are Dagster's dynamic partitions: every table asset is materialized one project at a time,
so a run, a failure or a backfill concerns one project and leaves the others' rows as they were."""

import dagster as dg

projects = dg.DynamicPartitionsDefinition(name="projects")
