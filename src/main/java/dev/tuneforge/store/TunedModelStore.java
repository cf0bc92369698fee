package dev.tuneforge.store;

import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.mapper.RowMapper;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Tuned models and their snapshots in the metadata database. A model is addressed by its project and public id
 * from the API, and by its internal uid from its tuning job and its files.
 */
public final class TunedModelStore {
    private static final String COLUMNS = "uid, id, project, operation_id, display_name, description, base_model, "
            + "source_tuned_model, state, create_time, update_time, temperature, top_p, top_k, epoch_count, batch_size, "
            + "learning_rate, learning_rate_multiplier, effective_learning_rate, training_examples, total_steps, "
            + "completed_steps, start_time, complete_time, error_code, error_message, cancel_requested, damage_reason";
    private static final RowMapper<TunedModelRecord> MAPPER = TunedModelStore::map;
    /** The first key of PostgreSQL advisory locks on a project's admission (the second is the project's hash). */
    private static final int ADMISSION_LOCKS = 0x7466_0001;
    private final Jdbi jdbi;
    private final Database.Dialect dialect;
    private final PermissionStore permissions;

    /** Where a page of {@link #list} starts: after the model with this create time, id and uid (ids repeat across projects). */
    public record ListPosition(String createTime, String id, String uid) {
    }

    public TunedModelStore(Database db) {
        this.jdbi = db.jdbi();
        this.dialect = db.dialect();
        this.permissions = new PermissionStore(jdbi);
    }

    /** The permissions of these models (who may read, write or own each). */
    public PermissionStore permissions() {
        return permissions;
    }

    /** Inserts a new tuned model; false when its project already has a model with its id. */
    public boolean insert(TunedModelRecord r) {
        return insert(r, usage -> {
        });
    }

    /**
     * Inserts a new tuned model if {@code admission} accepts its project's usage (it throws to refuse, and nothing is
     * stored); false when the project already has a model with its id. The usage is read and the row written in one
     * transaction holding the project's admission lock, so that concurrent creates, in this process or in another
     * over the same database, never both pass a limit that only one of them fits under.
     */
    public boolean insert(TunedModelRecord r, Consumer<ProjectUsage> admission) {
        return insert(r, admission, h -> {
        });
    }

    /** As above, also running {@code alsoInTransaction} (queueing the model's job) in the insert's transaction. */
    public boolean insert(TunedModelRecord r, Consumer<ProjectUsage> admission, Consumer<Handle> alsoInTransaction) {
        return jdbi.inTransaction(h -> {
            lockAdmission(h, r.project());
            admission.accept(usage(h, r.project()));
            if (h.createQuery("SELECT COUNT(*) FROM tuned_models WHERE project = :project AND id = :id")
                    .bind("project", r.project()).bind("id", r.id()).mapTo(Integer.class).one() > 0) {
                return false;
            }
            h.createUpdate("INSERT INTO tuned_models (uid, id, project, operation_id, display_name, description, "
                            + "base_model, source_tuned_model, state, create_time, update_time, temperature, top_p, top_k, "
                            + "epoch_count, batch_size, learning_rate, learning_rate_multiplier, effective_learning_rate, "
                            + "training_examples, total_steps, completed_steps, cancel_requested) VALUES (:uid, :id, "
                            + ":project, :operationId, :displayName, :description, :baseModel, :sourceTunedModel, :state, "
                            + ":createTime, :updateTime, :temperature, :topP, :topK, :epochCount, :batchSize, :learningRate, "
                            + ":learningRateMultiplier, :effectiveLearningRate, :trainingExamplesJson, :totalSteps, "
                            + ":completedSteps, 0)")
                    .bindMethods(r)
                    .bind("state", r.state().name())
                    .execute();
            PermissionStore.insert(h, r.uid(), Permission.creator(r.project(), r.createTime()));
            alsoInTransaction.accept(h);
            return true;
        });
    }

    /**
     * Makes the other admissions of {@code project} wait until this transaction ends. PostgreSQL: a
     * transaction-scoped advisory lock on the project (another project's creates go on; a hash collision only makes
     * two projects wait for each other). SQLite: nothing to do, its transactions are immediate and so already hold
     * the database's single write lock from their start.
     */
    private void lockAdmission(Handle h, String project) {
        if (dialect == Database.Dialect.POSTGRESQL) {
            h.createQuery("SELECT pg_advisory_xact_lock(:locks, hashtext(:project))::text")
                    .bind("locks", ADMISSION_LOCKS).bind("project", project).mapTo(String.class).one();
        }
    }

    /** The model {@code id} of {@code project}. */
    public Optional<TunedModelRecord> get(String project, String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT " + COLUMNS + " FROM tuned_models WHERE project = :project "
                + "AND id = :id").bind("project", project).bind("id", id).map(MAPPER).findOne());
    }

    /** The model with internal id {@code uid}. */
    public Optional<TunedModelRecord> byUid(String uid) {
        return jdbi.withHandle(h -> h.createQuery("SELECT " + COLUMNS + " FROM tuned_models WHERE uid = :uid")
                .bind("uid", uid).map(MAPPER).findOne());
    }

    /**
     * Which models a list shows: those the caller holds at least {@code directRole} on by name (as a user or through
     * one of its groups; null: no such condition), and when {@code sharedWithEveryone}, those shared with everyone.
     */
    public record Access(Principals principals, Permission.Role directRole, boolean sharedWithEveryone) {
    }

    /** A model with the highest role the caller holds on it. */
    public record Accessible(TunedModelRecord model, Permission.Role role) {
    }

    /**
     * The models with public id {@code id} that the caller holds a role on (by name or as one of everyone), with
     * that role: at most one per project.
     */
    public List<Accessible> accessible(String id, Principals principals) {
        return jdbi.withHandle(h -> GranteeMatch.bind(h.createQuery("SELECT " + COLUMNS + ", (SELECT MAX("
                        + GranteeMatch.ROLE_RANK + ") FROM tuned_model_permissions p WHERE p.tuned_model_uid = "
                        + "tuned_models.uid AND " + GranteeMatch.any() + ") AS access_rank FROM tuned_models WHERE id = :id "
                        + "ORDER BY create_time, uid"), principals).bind("id", id)
                .map((rs, ctx) -> {
                    int rank = rs.getInt("access_rank");
                    return rs.wasNull() ? null : new Accessible(map(rs, ctx), GranteeMatch.role(rank));
                }).list().stream().filter(java.util.Objects::nonNull).toList());
    }

    /**
     * Up to {@code limit} of the tuned models {@code access} selects, oldest first, after {@code after} (null: from
     * the start), those whose display name and description contain every one of {@code words} (lowercase; ASCII
     * letters compared case-insensitively).
     */
    public List<TunedModelRecord> list(Access access, List<String> words, ListPosition after, int limit) {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM tuned_models WHERE 1 = 1");
        if (access.directRole() != null) {
            sql.append(" AND EXISTS (SELECT 1 FROM tuned_model_permissions p WHERE p.tuned_model_uid = tuned_models.uid AND ")
                    .append(GranteeMatch.direct()).append(" AND p.role IN (<roles>))");
        }
        if (access.sharedWithEveryone()) {
            sql.append(" AND EXISTS (SELECT 1 FROM tuned_model_permissions p WHERE p.tuned_model_uid = tuned_models.uid "
                    + "AND p.grantee_type = 'EVERYONE')");
        }
        if (after != null) {
            sql.append(" AND (create_time > :afterTime OR (create_time = :afterTime AND (id > :afterId "
                    + "OR (id = :afterId AND uid > :afterUid))))");
        }
        for (int i = 0; i < words.size(); i++) {
            sql.append(" AND LOWER(COALESCE(display_name, '') || ' ' || COALESCE(description, '')) LIKE :word")
                    .append(i).append(" ESCAPE '\\'");
        }
        sql.append(" ORDER BY create_time, id, uid LIMIT :limit");
        return jdbi.withHandle(h -> {
            var q = h.createQuery(sql.toString()).bind("limit", limit);
            if (access.directRole() != null) {
                GranteeMatch.bind(q, access.principals()).bindList("roles", java.util.Arrays.stream(Permission.Role.values())
                        .filter(r -> r.allows(access.directRole())).map(Enum::name).toList());
            }
            if (after != null) {
                q.bind("afterTime", after.createTime()).bind("afterId", after.id()).bind("afterUid", after.uid());
            }
            for (int i = 0; i < words.size(); i++) {
                q.bind("word" + i, "%" + likeEscaped(words.get(i)) + "%");
            }
            return q.map(MAPPER).list();
        });
    }

    private static String likeEscaped(String word) {
        return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
    }

    /** Uids of tuned models still being created, oldest first: jobs to run or to resume. */
    public List<String> creating() {
        return jdbi.withHandle(h -> h.createQuery("SELECT uid FROM tuned_models WHERE state = 'CREATING' "
                + "ORDER BY create_time, uid").mapTo(String.class).list());
    }

    /**
     * Records that the job starts (again) and returns how many times it has been started, this time included.
     * {@code replacesUnfinishedStart}: the previous start ended without the process dying (its undo could not be
     * written then), so this one does not count again.
     */
    public int markStarted(String uid, String time, boolean replacesUnfinishedStart) {
        return jdbi.inTransaction(h -> {
            h.createUpdate("UPDATE tuned_models SET start_time = COALESCE(start_time, :t), update_time = :t, "
                    + "attempts = attempts + :increment WHERE uid = :uid").bind("t", time)
                    .bind("increment", replacesUnfinishedStart ? 0 : 1).bind("uid", uid).execute();
            return h.createQuery("SELECT attempts FROM tuned_models WHERE uid = :uid").bind("uid", uid)
                    .mapTo(Integer.class).one();
        });
    }

    /**
     * Records a step's snapshot and the progress in one transaction; false (and nothing recorded) when the job is to
     * stop: its model was deleted or its cancel requested, by any process.
     */
    public boolean recordStep(String uid, Snapshot s, String time) {
        return jdbi.inTransaction(h -> {
            Integer cancel = h.createQuery("SELECT cancel_requested FROM tuned_models WHERE uid = :uid")
                    .bind("uid", uid).mapTo(Integer.class).findOne().orElse(null);
            if (cancel == null || cancel != 0) {
                return false;
            }
            h.createUpdate("DELETE FROM tuning_snapshots WHERE tuned_model_uid = :uid AND step = :step")
                    .bind("uid", uid).bind("step", s.step()).execute();
            h.createUpdate("INSERT INTO tuning_snapshots (tuned_model_uid, step, epoch, mean_loss, compute_time) "
                            + "VALUES (:uid, :step, :epoch, :loss, :time)")
                    .bind("uid", uid).bind("step", s.step()).bind("epoch", s.epoch()).bind("loss", s.meanLoss())
                    .bind("time", s.computeTime()).execute();
            h.createUpdate("UPDATE tuned_models SET completed_steps = :step, update_time = :t WHERE uid = :uid")
                    .bind("step", s.step()).bind("t", time).bind("uid", uid).execute();
            return true;
        });
    }

    /** Drops snapshots after {@code step} (they are recomputed when a job resumes from an earlier checkpoint). */
    public void truncateSnapshots(String uid, int step) {
        jdbi.useTransaction(h -> {
            h.createUpdate("DELETE FROM tuning_snapshots WHERE tuned_model_uid = :uid AND step > :step")
                    .bind("uid", uid).bind("step", step).execute();
            h.createUpdate("UPDATE tuned_models SET completed_steps = :step WHERE uid = :uid")
                    .bind("step", step).bind("uid", uid).execute();
        });
    }

    /** Takes back a start that ended without its process dying: it does not count towards the job's attempts. */
    public void undoStart(String uid) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET attempts = attempts - 1 WHERE uid = :uid AND attempts > 0")
                .bind("uid", uid).execute());
    }

    public void markActive(String uid, String time) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET state = 'ACTIVE', complete_time = :t, update_time = :t "
                + "WHERE uid = :uid AND state = 'CREATING'").bind("t", time).bind("uid", uid).execute());
    }

    public void markFailed(String uid, int code, String message, String time) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET state = 'FAILED', error_code = :code, "
                        + "error_message = :message, complete_time = :t, update_time = :t WHERE uid = :uid AND state = 'CREATING'")
                .bind("code", code).bind("message", message).bind("t", time).bind("uid", uid).execute());
    }

    public void requestCancel(String uid) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET cancel_requested = 1 WHERE uid = :uid")
                .bind("uid", uid).execute());
    }

    public void patch(String uid, String displayName, String description, Double temperature, Double topP, Integer topK,
                      String time) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET display_name = :displayName, description = :description, "
                        + "temperature = :temperature, top_p = :topP, top_k = :topK, update_time = :t WHERE uid = :uid")
                .bind("displayName", displayName).bind("description", description).bind("temperature", temperature)
                .bind("topP", topP).bind("topK", topK).bind("t", time).bind("uid", uid).execute());
    }

    /** Marks the model's adapter unreadable ({@code reason}: what was wrong, without server paths); null clears it. */
    public void markDamaged(String uid, String reason, String time) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET damage_reason = :reason, damage_time = :t "
                        + "WHERE uid = :uid").bind("reason", reason).bind("t", reason == null ? null : time)
                .bind("uid", uid).execute());
    }

    public boolean delete(String uid) {
        return jdbi.inTransaction(h -> {
            h.createUpdate("DELETE FROM tuning_snapshots WHERE tuned_model_uid = :uid").bind("uid", uid).execute();
            h.createUpdate("DELETE FROM tuned_model_permissions WHERE tuned_model_uid = :uid").bind("uid", uid).execute();
            return h.createUpdate("DELETE FROM tuned_models WHERE uid = :uid").bind("uid", uid).execute() > 0;
        });
    }

    public List<Snapshot> snapshots(String uid) {
        return jdbi.withHandle(h -> h.createQuery("SELECT step, epoch, mean_loss, compute_time FROM tuning_snapshots "
                        + "WHERE tuned_model_uid = :uid ORDER BY step")
                .bind("uid", uid)
                .map((rs, ctx) -> new Snapshot(rs.getInt(1), rs.getInt(2), rs.getDouble(3), rs.getString(4))).list());
    }

    /** A project's tuned models, and how many of them are still being created (their jobs not finished). */
    public record ProjectUsage(long tunedModels, long creating) {
    }

    public ProjectUsage usage(String project) {
        return jdbi.withHandle(h -> usage(h, project));
    }

    private static ProjectUsage usage(Handle h, String project) {
        return h.createQuery("SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'CREATING' THEN 1 "
                        + "ELSE 0 END), 0) FROM tuned_models WHERE project = :project").bind("project", project)
                .map((rs, ctx) -> new ProjectUsage(rs.getLong(1), rs.getLong(2))).one();
    }

    public int count() {
        return jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM tuned_models").mapTo(Integer.class).one());
    }

    /**
     * Tuning jobs by state, for metrics: {@code queued} (CREATING, never started), {@code running} (CREATING and
     * started: training, or waiting to resume), {@code active} and {@code failed}.
     */
    public java.util.Map<String, Long> jobCounts() {
        java.util.Map<String, Long> counts = new java.util.HashMap<>(java.util.Map.of("queued", 0L, "running", 0L,
                "active", 0L, "failed", 0L));
        jdbi.useHandle(h -> h.createQuery("SELECT CASE WHEN state = 'CREATING' AND start_time IS NULL THEN 'queued' "
                        + "WHEN state = 'CREATING' THEN 'running' ELSE LOWER(state) END AS job, COUNT(*) AS n "
                        + "FROM tuned_models GROUP BY 1")
                .map((rs, ctx) -> java.util.Map.entry(rs.getString(1), rs.getLong(2)))
                .forEach(e -> counts.put(e.getKey(), e.getValue())));
        return counts;
    }

    /** Throws unless the database answers a query (readiness). */
    public void ping() {
        jdbi.withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one());
    }

    private static TunedModelRecord map(ResultSet rs, org.jdbi.v3.core.statement.StatementContext ctx) throws SQLException {
        return new TunedModelRecord(rs.getString("uid"), rs.getString("id"), rs.getString("project"),
                rs.getString("operation_id"),
                rs.getString("display_name"), rs.getString("description"), rs.getString("base_model"),
                rs.getString("source_tuned_model"), TunedModelRecord.State.valueOf(rs.getString("state")),
                rs.getString("create_time"), rs.getString("update_time"),
                (Double) nullable(rs, "temperature", rs.getDouble("temperature")),
                (Double) nullable(rs, "top_p", rs.getDouble("top_p")),
                (Integer) nullable(rs, "top_k", rs.getInt("top_k")),
                rs.getInt("epoch_count"), rs.getInt("batch_size"),
                (Double) nullable(rs, "learning_rate", rs.getDouble("learning_rate")),
                (Double) nullable(rs, "learning_rate_multiplier", rs.getDouble("learning_rate_multiplier")),
                rs.getDouble("effective_learning_rate"), rs.getString("training_examples"),
                rs.getInt("total_steps"), rs.getInt("completed_steps"), rs.getString("start_time"),
                rs.getString("complete_time"), (Integer) nullable(rs, "error_code", rs.getInt("error_code")),
                rs.getString("error_message"), rs.getInt("cancel_requested") != 0, rs.getString("damage_reason"));
    }

    private static Object nullable(ResultSet rs, String column, Object value) throws SQLException {
        rs.getObject(column);
        return rs.wasNull() ? null : value;
    }
}
