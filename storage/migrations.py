"""Versioned schema migrations, applied at start-up.

Each migration is a list of schema objects (or plain statements) rendered for the
store's topology. Every statement is idempotent (``IF NOT EXISTS``), so a migration
interrupted half-way is simply applied again; the ``schema_migrations`` row is
written last. Several processes migrating one server at once is harmless for the
same reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from storage.api import Backend
from storage.schema import Cluster, NewColumns, NewIndex, Rebuild, Table, TableSettings, View, render
from storage.tables import (
    ALL_TABLES,
    ANNOTATION_ITEMS,
    ANNOTATION_QUEUES,
    AUDIT_LOG,
    COMMENTS,
    DATASET_ITEM_MEDIA,
    DATASET_ITEM_VERSIONS,
    DATASET_RUN_ITEMS,
    DATASET_RUNS,
    DATASETS,
    ENDED_SESSIONS,
    EVAL_JOBS,
    EVAL_RULES,
    EVAL_TEMPLATE_VERSIONS,
    EVAL_TEMPLATES,
    EXPERIMENT_RUNS,
    GROUP_GRANTS,
    INVITATIONS,
    LLM_CONNECTIONS,
    LOGS,
    MEDIA,
    MEMBERSHIPS,
    METRIC_POINTS,
    ORGANIZATION_API_KEYS,
    PROJECT_MEMBERSHIPS,
    PROMPT_CLAIMS,
    PROMPTS,
    SCHEMA_MIGRATIONS,
    SCORE_CONFIGS,
    SKILL_CLAIMS,
    SKILL_FILES,
    SKILLS,
    SMALL_BLOCKS,
    SPAN_ARRAY_KEYS_INDEX,
    SPLIT_TRACES,
    TABLES,
    TRACE_INDEX,
    TRACE_INDEX_MV,
    TRACE_MEDIA,
    TRACE_SHARES,
    TRACES,
    TRACES_MV,
    USER_PREFERENCES,
    VERTICAL_MERGES,
    VIEWS,
)

__all__ = ["MIGRATIONS", "Migration", "cluster_statements", "migrate", "schema_version"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    objects: Sequence[Table | View | TableSettings | Rebuild | NewColumns | NewIndex | str]


LATER_MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "spans: 256 KB compression blocks (merge memory)", [TableSettings("spans", SMALL_BLOCKS)]),
    # The root's newest version names a trace (tables.ROOT_ORDER); the summary is rebuilt from spans.
    Migration(
        3,
        "traces summary: the newest version of the root names the trace; traces split over days",
        [
            Rebuild(TRACES, TRACES_MV),
            SPLIT_TRACES,
            # On a cluster these are the Distributed tables: one statement reads every shard.
            "INSERT INTO split_traces (project_id, trace_id, first_day, last_day, retention_days) "
            "SELECT project_id, trace_id, min(day), max(day), max(retention_days) FROM traces "
            "GROUP BY project_id, trace_id HAVING uniqExact(day) > 1 SETTINGS insert_distributed_sync = 1",
        ],
    ),
    Migration(4, "OTLP log records", [LOGS]),
    Migration(5, "OTLP metric data points", [METRIC_POINTS]),
    Migration(
        6,
        "organization members and roles; existing accounts join the default organization",
        [
            MEMBERSHIPS,
            PROJECT_MEMBERSHIPS,
            # The admin account becomes its owner, any other account a member. Run again, it
            # writes the same rows (a version each; the newest is read).
            "INSERT INTO memberships (organization_id, user_id, role, created_at, updated_at, is_deleted) "
            "SELECT 'default', id, if(is_admin = 1, 'OWNER', 'MEMBER'), now64(3), now64(6), 0 "
            "FROM users FINAL WHERE is_deleted = 0 AND id != '__session_signing_key__' "
            "AND id NOT IN (SELECT user_id FROM memberships) SETTINGS insert_distributed_sync = 1",
        ],
    ),
    Migration(7, "invitation and password-reset links", [INVITATIONS]),
    Migration(8, "media uploaded by the Langfuse SDKs, and the traces that hold them", [MEDIA, TRACE_MEDIA]),
    Migration(9, "prompt versions, and claims of version numbers", [PROMPTS, PROMPT_CLAIMS]),
    Migration(
        10,
        "datasets, their item versions, runs and run items",
        [DATASETS, DATASET_ITEM_VERSIONS, DATASET_RUNS, DATASET_RUN_ITEMS],
    ),
    Migration(11, "model connections, their secrets sealed", [LLM_CONNECTIONS]),
    Migration(12, "evaluator templates, rules and the evaluation job table", [EVAL_TEMPLATES, EVAL_RULES, EVAL_JOBS]),
    Migration(13, "score configs and annotation queues", [SCORE_CONFIGS, ANNOTATION_QUEUES, ANNOTATION_ITEMS]),
    Migration(14, "comments on traces, observations, sessions and prompts", [COMMENTS]),
    Migration(15, "people's own settings (the UI's language)", [USER_PREFERENCES]),
    Migration(16, "organization-scoped API keys", [ORGANIZATION_API_KEYS]),
    Migration(17, "evaluator versions: each definition an evaluator has had", [EVAL_TEMPLATE_VERSIONS]),
    Migration(18, "media held by dataset items", [DATASET_ITEM_MEDIA]),
    Migration(19, "sessions ended by signing out", [ENDED_SESSIONS]),
    Migration(20, "experiments the server runs, and how far each got", [EXPERIMENT_RUNS]),
    # Added while writers of the older version may still write (a rolling upgrade): nothing is
    # dropped but the old view, after its successor feeds the index (storage.trace_cache).
    Migration(
        21,
        "trace index: how many rows each trace was written and when last (trace reads kept until it changes)",
        [NewColumns(TRACE_INDEX, ("writes", "last_write"), TRACE_INDEX_MV, "trace_index_mv")],
    ),
    Migration(22, "traces shared by a public link", [TRACE_SHARES]),
    Migration(23, "roles single sign-on's groups gave, and the roles before them", [GROUP_GRANTS]),
    Migration(24, "the audit log: who changed what", [AUDIT_LOG]),
    Migration(25, "spans: an index of which attributes are arrays", [NewIndex("spans", SPAN_ARRAY_KEYS_INDEX)]),
    Migration(
        26, "skill versions, their files' contents, and claims of version numbers", [SKILLS, SKILL_FILES, SKILL_CLAIMS]
    ),
    Migration(
        27,
        "spans: vertical merges wherever the merged part is wide (merge memory)",
        [TableSettings("spans", VERTICAL_MERGES)],
    ),
)

# Tables that came with a migration of their own after version 1 (read from those migrations, so
# a new table is listed once), and the migrations table, which migrate() makes itself.
LATER_TABLES = (SCHEMA_MIGRATIONS, *(o for m in LATER_MIGRATIONS for o in m.objects if isinstance(o, Table)))

MIGRATIONS: tuple[Migration, ...] = (
    # Version 1's tables as they are now: later tables come with their own migration.
    Migration(1, "trace model", [t for t in ALL_TABLES if t not in LATER_TABLES] + list(VIEWS)),
    *LATER_MIGRATIONS,
)

LATEST = MIGRATIONS[-1].version


def statements(migration: Migration, cluster: Cluster | None = None) -> list[str]:
    """The statements of one migration for a single node (``cluster=None``) or a cluster."""
    return render(migration.objects, TABLES, cluster)


def cluster_statements(cluster: str, database: str) -> list[str]:
    """Every statement of the schema, in order, in its cluster form (ON CLUSTER)."""
    target = Cluster(cluster, database)
    out = render([SCHEMA_MIGRATIONS], TABLES, target)
    for migration in MIGRATIONS:
        out += statements(migration, target)
    return out


async def schema_version(backend: Backend) -> int:
    """The highest applied migration version (0 on an empty store)."""
    await backend.execute(render([SCHEMA_MIGRATIONS], TABLES, backend.cluster)[0])
    rows = await backend.query("SELECT max(version) AS v FROM schema_migrations")
    return int(rows[0]["v"]) if rows else 0


async def migrate(backend: Backend) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied now."""
    current = await schema_version(backend)
    # On a cluster every statement runs ON CLUSTER, once, from whichever process migrates first.
    cluster = backend.cluster
    if current > LATEST:
        log.warning(
            "the store's schema (version %d) is newer than this Tracehouse (version %d); running anyway",
            current,
            LATEST,
        )
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        log.info("applying migration %d: %s", migration.version, migration.name)
        for statement in statements(migration, cluster):
            await backend.execute(statement)
        await backend.execute(
            "INSERT INTO schema_migrations (version, name) SELECT {v:UInt32}, {n:String}",
            {"v": migration.version, "n": migration.name},
        )
        applied.append(migration.version)
    return applied
