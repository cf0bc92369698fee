package dev.tuneforge.store;

import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import org.jdbi.v3.core.mapper.RowMapper;

import java.util.List;
import java.util.Optional;

/**
 * The permissions of tuned models (who may read, write or own each), in the metadata database. A model has exactly
 * one OWNER permission: it is created with the model (its creating project's), moves only by {@link #transfer}, and
 * the update and delete here leave it alone.
 */
public final class PermissionStore {
    private static final String COLUMNS = "id, grantee_type, email_address, role, create_time";
    private static final RowMapper<Permission> MAPPER = (rs, ctx) -> new Permission(rs.getString("id"),
            Permission.GranteeType.valueOf(rs.getString("grantee_type")), rs.getString("email_address"),
            Permission.Role.valueOf(rs.getString("role")), rs.getString("create_time"));
    private final Jdbi jdbi;

    /** Where a page of {@link #list} starts: after the permission with this create time and id. */
    public record ListPosition(String createTime, String id) {
    }

    PermissionStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Up to {@code limit} permissions of the model, in the order they were granted, after {@code after} (null: first). */
    public List<Permission> list(String uid, ListPosition after, int limit) {
        return jdbi.withHandle(h -> {
            var q = h.createQuery("SELECT " + COLUMNS + " FROM tuned_model_permissions WHERE tuned_model_uid = :uid"
                    + (after == null ? "" : " AND (create_time > :afterTime OR (create_time = :afterTime AND id > :afterId))")
                    + " ORDER BY create_time, id LIMIT :limit").bind("uid", uid).bind("limit", limit);
            if (after != null) {
                q.bind("afterTime", after.createTime()).bind("afterId", after.id());
            }
            return q.map(MAPPER).list();
        });
    }

    public Optional<Permission> get(String uid, String id) {
        return jdbi.withHandle(h -> get(h, uid, id));
    }

    private static Optional<Permission> get(Handle h, String uid, String id) {
        return h.createQuery("SELECT " + COLUMNS + " FROM tuned_model_permissions WHERE tuned_model_uid = :uid AND id = :id")
                .bind("uid", uid).bind("id", id).map(MAPPER).findOne();
    }

    /** The permission the model grants to this grantee, if any. */
    public Optional<Permission> find(String uid, Permission.GranteeType type, String emailAddress) {
        return jdbi.withHandle(h -> find(h, uid, type, emailAddress));
    }

    private static Optional<Permission> find(Handle h, String uid, Permission.GranteeType type, String emailAddress) {
        return h.createQuery("SELECT " + COLUMNS + " FROM tuned_model_permissions WHERE tuned_model_uid = :uid "
                        + "AND grantee_type = :type AND email_address = :email")
                .bind("uid", uid).bind("type", type.name()).bind("email", emailAddress).map(MAPPER).findOne();
    }

    /** Stores a new permission; false (nothing stored) when the model already grants something to that grantee. */
    public boolean create(String uid, Permission p) {
        try {
            return jdbi.inTransaction(h -> {
                lockModel(h, uid);
                if (find(h, uid, p.granteeType(), p.emailAddress()).isPresent()) {
                    return false;
                }
                insert(h, uid, p);
                return true;
            });
        } catch (JdbiException e) {
            // the unique key refused a grant that a concurrent request stored first
            if (find(uid, p.granteeType(), p.emailAddress()).isPresent()) {
                return false;
            }
            throw e;
        }
    }

    /**
     * Serializes the changes of one model's permissions: a write to its row holds the row's lock (PostgreSQL) or the
     * database's (SQLite) until the transaction ends, in portable SQL (SQLite has no SELECT ... FOR UPDATE).
     */
    private static void lockModel(Handle h, String uid) {
        h.createUpdate("UPDATE tuned_models SET update_time = update_time WHERE uid = :uid").bind("uid", uid).execute();
    }

    static void insert(Handle h, String uid, Permission p) {
        h.createUpdate("INSERT INTO tuned_model_permissions (tuned_model_uid, id, grantee_type, email_address, role, "
                        + "create_time) VALUES (:uid, :id, :type, :email, :role, :t)")
                .bind("uid", uid).bind("id", p.id()).bind("type", p.granteeType().name())
                .bind("email", p.emailAddress()).bind("role", p.role().name()).bind("t", p.createTime()).execute();
    }

    /** Sets the role of a permission other than the OWNER's; false when there is no such permission. */
    public boolean updateRole(String uid, String id, Permission.Role role) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE tuned_model_permissions SET role = :role WHERE "
                        + "tuned_model_uid = :uid AND id = :id AND role <> 'OWNER'")
                .bind("role", role.name()).bind("uid", uid).bind("id", id).execute() > 0);
    }

    /** Deletes a permission other than the OWNER's; false when there is no such permission. */
    public boolean delete(String uid, String id) {
        return jdbi.withHandle(h -> h.createUpdate("DELETE FROM tuned_model_permissions WHERE tuned_model_uid = :uid "
                + "AND id = :id AND role <> 'OWNER'").bind("uid", uid).bind("id", id).execute() > 0);
    }

    /**
     * Makes {@code newOwner} (its id is used when the grantee holds no permission yet) the model's OWNER, in one
     * transaction; the previous OWNER becomes a WRITER, as Google's transferOwnership does.
     */
    public void transfer(String uid, Permission newOwner) {
        jdbi.useTransaction(h -> {
            lockModel(h, uid);
            h.createUpdate("UPDATE tuned_model_permissions SET role = 'WRITER' WHERE tuned_model_uid = :uid AND role = 'OWNER'")
                    .bind("uid", uid).execute();
            Optional<Permission> existing = find(h, uid, newOwner.granteeType(), newOwner.emailAddress());
            if (existing.isPresent()) {
                h.createUpdate("UPDATE tuned_model_permissions SET role = 'OWNER' WHERE tuned_model_uid = :uid AND id = :id")
                        .bind("uid", uid).bind("id", existing.get().id()).execute();
            } else {
                insert(h, uid, newOwner);
            }
        });
    }
}
