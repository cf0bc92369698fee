package dev.tuneforge.tuning;

import dev.tuneforge.store.Database;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;

/** The tuning jobs in the job engine's table, queued or held by a worker, with their model's progress (read-only). */
public final class JobListing {
    private JobListing() {
    }

    /**
     * A job: its model ({@code project/tunedModels/id}; null when the model was deleted and its job not yet
     * removed), whether a worker holds it, which (host and process id) and when that worker last beat.
     */
    public record Job(String uid, String model, boolean running, String worker, Instant lastHeartbeat,
                      Instant executionTime, int completedSteps, int totalSteps, int starts) {
    }

    /** Every job, running ones first, each group oldest first. */
    public static List<Job> list(Database db) {
        return db.jdbi().withHandle(h -> h.createQuery("SELECT s.task_instance, s.picked, s.picked_by, s.last_heartbeat, "
                        + "s.execution_time, m.project, m.id, m.completed_steps, m.total_steps, m.attempts "
                        + "FROM scheduled_tasks s LEFT JOIN tuned_models m ON m.uid = s.task_instance "
                        + "WHERE s.task_name = :task ORDER BY s.picked DESC, s.execution_time, s.task_instance")
                .bind("task", TuningJobs.TASK).map((rs, ctx) -> job(rs)).list());
    }

    private static Job job(ResultSet rs) throws SQLException {
        String id = rs.getString("id");
        return new Job(rs.getString("task_instance"), id == null ? null : rs.getString("project") + "/tunedModels/" + id,
                rs.getBoolean("picked"), rs.getString("picked_by"), instant(rs.getTimestamp("last_heartbeat")),
                instant(rs.getTimestamp("execution_time")), rs.getInt("completed_steps"), rs.getInt("total_steps"),
                rs.getInt("attempts"));
    }

    private static Instant instant(Timestamp t) {
        return t == null ? null : t.toInstant();
    }
}
