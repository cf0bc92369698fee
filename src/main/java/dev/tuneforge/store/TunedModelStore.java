package dev.tuneforge.store;

import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.mapper.RowMapper;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/** Tuned models and their snapshots in the metadata database. */
public final class TunedModelStore {
    private static final String COLUMNS = "id, project, operation_id, display_name, description, base_model, "
            + "source_tuned_model, state, create_time, update_time, temperature, top_p, top_k, epoch_count, batch_size, "
            + "learning_rate, learning_rate_multiplier, effective_learning_rate, training_examples, total_steps, "
            + "completed_steps, start_time, complete_time, error_code, error_message, cancel_requested";
    private static final RowMapper<TunedModelRecord> MAPPER = TunedModelStore::map;
    private final Jdbi jdbi;

    public TunedModelStore(Database db) {
        this.jdbi = db.jdbi();
    }

    /** Inserts a new tuned model; false when the id is taken. */
    public boolean insert(TunedModelRecord r) {
        return jdbi.inTransaction(h -> {
            if (h.createQuery("SELECT COUNT(*) FROM tuned_models WHERE id = :id").bind("id", r.id())
                    .mapTo(Integer.class).one() > 0) {
                return false;
            }
            h.createUpdate("INSERT INTO tuned_models (" + COLUMNS + ") VALUES (:id, :project, :operationId, "
                            + ":displayName, :description, :baseModel, :sourceTunedModel, :state, :createTime, :updateTime, "
                            + ":temperature, :topP, :topK, :epochCount, :batchSize, :learningRate, :learningRateMultiplier, "
                            + ":effectiveLearningRate, :trainingExamplesJson, :totalSteps, :completedSteps, :startTime, "
                            + ":completeTime, :errorCode, :errorMessage, :cancel)")
                    .bindMethods(r)
                    .bind("state", r.state().name())
                    .bind("cancel", r.cancelRequested() ? 1 : 0)
                    .execute();
            return true;
        });
    }

    public Optional<TunedModelRecord> get(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT " + COLUMNS + " FROM tuned_models WHERE id = :id")
                .bind("id", id).map(MAPPER).findOne());
    }

    /** A project's tuned models, oldest first (the API filters and pages them). */
    public List<TunedModelRecord> list(String project) {
        return jdbi.withHandle(h -> h.createQuery("SELECT " + COLUMNS + " FROM tuned_models WHERE project = :project "
                        + "ORDER BY create_time, id")
                .bind("project", project).map(MAPPER).list());
    }

    /** Ids of tuned models still being created: jobs to run or to resume. */
    public List<String> creating() {
        return jdbi.withHandle(h -> h.createQuery("SELECT id FROM tuned_models WHERE state = 'CREATING' ORDER BY create_time, id")
                .mapTo(String.class).list());
    }

    /** Records that the job starts (again) and returns how many times it has been started, this time included. */
    public int markStarted(String id, String time) {
        return jdbi.inTransaction(h -> {
            h.createUpdate("UPDATE tuned_models SET start_time = COALESCE(start_time, :t), update_time = :t, "
                    + "attempts = attempts + 1 WHERE id = :id").bind("t", time).bind("id", id).execute();
            return h.createQuery("SELECT attempts FROM tuned_models WHERE id = :id").bind("id", id).mapTo(Integer.class).one();
        });
    }

    /** Records a step's snapshot and the progress in one transaction. */
    public void recordStep(String id, Snapshot s, String time) {
        jdbi.useTransaction(h -> {
            h.createUpdate("DELETE FROM tuning_snapshots WHERE tuned_model_id = :id AND step = :step")
                    .bind("id", id).bind("step", s.step()).execute();
            h.createUpdate("INSERT INTO tuning_snapshots (tuned_model_id, step, epoch, mean_loss, compute_time) "
                            + "VALUES (:id, :step, :epoch, :loss, :time)")
                    .bind("id", id).bind("step", s.step()).bind("epoch", s.epoch()).bind("loss", s.meanLoss())
                    .bind("time", s.computeTime()).execute();
            h.createUpdate("UPDATE tuned_models SET completed_steps = :step, update_time = :t WHERE id = :id")
                    .bind("step", s.step()).bind("t", time).bind("id", id).execute();
        });
    }

    /** Drops snapshots after {@code step} (they are recomputed when a job resumes from an earlier checkpoint). */
    public void truncateSnapshots(String id, int step) {
        jdbi.useTransaction(h -> {
            h.createUpdate("DELETE FROM tuning_snapshots WHERE tuned_model_id = :id AND step > :step")
                    .bind("id", id).bind("step", step).execute();
            h.createUpdate("UPDATE tuned_models SET completed_steps = :step WHERE id = :id")
                    .bind("step", step).bind("id", id).execute();
        });
    }

    /** Takes back a start that ended in an orderly shutdown: it does not count towards the job's attempts. */
    public void undoStart(String id) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET attempts = attempts - 1 WHERE id = :id AND attempts > 0")
                .bind("id", id).execute());
    }

    public void markActive(String id, String time) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET state = 'ACTIVE', complete_time = :t, update_time = :t "
                + "WHERE id = :id AND state = 'CREATING'").bind("t", time).bind("id", id).execute());
    }

    public void markFailed(String id, int code, String message, String time) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET state = 'FAILED', error_code = :code, "
                        + "error_message = :message, complete_time = :t, update_time = :t WHERE id = :id AND state = 'CREATING'")
                .bind("code", code).bind("message", message).bind("t", time).bind("id", id).execute());
    }

    public void requestCancel(String id) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET cancel_requested = 1 WHERE id = :id").bind("id", id).execute());
    }

    public void patch(String id, String displayName, String description, Double temperature, Double topP, Integer topK,
                      String time) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE tuned_models SET display_name = :displayName, description = :description, "
                        + "temperature = :temperature, top_p = :topP, top_k = :topK, update_time = :t WHERE id = :id")
                .bind("displayName", displayName).bind("description", description).bind("temperature", temperature)
                .bind("topP", topP).bind("topK", topK).bind("t", time).bind("id", id).execute());
    }

    public boolean delete(String id) {
        return jdbi.inTransaction(h -> {
            h.createUpdate("DELETE FROM tuning_snapshots WHERE tuned_model_id = :id").bind("id", id).execute();
            return h.createUpdate("DELETE FROM tuned_models WHERE id = :id").bind("id", id).execute() > 0;
        });
    }

    public List<Snapshot> snapshots(String id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT step, epoch, mean_loss, compute_time FROM tuning_snapshots "
                        + "WHERE tuned_model_id = :id ORDER BY step")
                .bind("id", id)
                .map((rs, ctx) -> new Snapshot(rs.getInt(1), rs.getInt(2), rs.getDouble(3), rs.getString(4))).list());
    }

    public int count() {
        return jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM tuned_models").mapTo(Integer.class).one());
    }

    private static TunedModelRecord map(ResultSet rs, org.jdbi.v3.core.statement.StatementContext ctx) throws SQLException {
        return new TunedModelRecord(rs.getString("id"), rs.getString("project"), rs.getString("operation_id"),
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
                rs.getString("error_message"), rs.getInt("cancel_requested") != 0);
    }

    private static Object nullable(ResultSet rs, String column, Object value) throws SQLException {
        rs.getObject(column);
        return rs.wasNull() ? null : value;
    }
}
