package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.auth.Caller;
import dev.tuneforge.store.Permission;
import dev.tuneforge.store.PermissionStore;
import dev.tuneforge.store.TunedModelRecord;
import dev.tuneforge.tuning.InvalidRequestException;
import dev.tuneforge.tuning.ServiceException;
import dev.tuneforge.tuning.ServiceException.Code;
import dev.tuneforge.tuning.TunedModelIds;
import io.javalin.Javalin;
import io.javalin.http.Context;

import java.time.Instant;
import java.util.List;

/**
 * Sharing a tuned model, as Google's v1beta REST API: {@code tunedModels/{id}/permissions} create, get, list,
 * patch, delete, and {@code tunedModels/{id}:transferOwnership}. These are tuning calls (an access token with a
 * tuning scope), and only the model's OWNER may make them ({@link ModelAccess}).
 */
final class PermissionRoutes {
    /** Permissions per page when the request names no size, as Google's. */
    private static final int DEFAULT_PAGE_SIZE = 10;
    private final ModelAccess access;
    private final PermissionStore permissions;

    PermissionRoutes(ModelAccess access, PermissionStore permissions) {
        this.access = access;
        this.permissions = permissions;
    }

    void register(Javalin app, String base) {
        app.get(base + "/tunedModels/{id}/permissions", this::list);
        app.post(base + "/tunedModels/{id}/permissions", this::create);
        app.get(base + "/tunedModels/{id}/permissions/{permission}", this::get);
        app.patch(base + "/tunedModels/{id}/permissions/{permission}", this::patch);
        app.delete(base + "/tunedModels/{id}/permissions/{permission}", this::delete);
    }

    private TunedModelRecord owned(Context ctx, String id, ModelAccess.Action action) {
        Caller caller = ApiServer.requireTuning(ctx);
        return access.require(caller, ApiServer.project(ctx), id, action).model();
    }

    private void create(Context ctx) {
        TunedModelRecord model = owned(ctx, ctx.pathParam("id"), ModelAccess.Action.SHARE);
        PermissionRequests.Grant grant = PermissionRequests.create(RequestBodies.json(ctx));
        if (grant.role() == Permission.Role.OWNER) {
            throw new InvalidRequestException("role OWNER is given only by tunedModels.transferOwnership");
        }
        Permission p = new Permission(TunedModelIds.random(12), grant.granteeType(), grant.emailAddress(),
                grant.role(), Instant.now().toString());
        if (!permissions.create(model.uid(), p)) {
            Permission existing = permissions.find(model.uid(), p.granteeType(), p.emailAddress()).orElseThrow();
            throw new ServiceException(Code.ALREADY_EXISTS, model.name() + " already grants " + existing.role() + " to "
                    + grantee(existing) + " (" + name(model, existing) + "); patch that permission to change its role");
        }
        ctx.json(json(model, p));
    }

    private void get(Context ctx) {
        TunedModelRecord model = owned(ctx, ctx.pathParam("id"), ModelAccess.Action.SHARE);
        ctx.json(json(model, permission(model, ctx.pathParam("permission"))));
    }

    private void list(Context ctx) {
        TunedModelRecord model = owned(ctx, ctx.pathParam("id"), ModelAccess.Action.SHARE);
        String sizeParam = ctx.queryParam("pageSize") != null ? ctx.queryParam("pageSize") : ctx.queryParam("page_size");
        int size = sizeParam == null || sizeParam.trim().equals("0") ? DEFAULT_PAGE_SIZE : ApiServer.Page.size(ctx);
        PermissionStore.ListPosition after = PageToken.parse(ApiServer.Page.token(ctx), model.id());
        List<Permission> rows = permissions.list(model.uid(), after, size + 1);
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        ArrayNode arr = out.putArray("permissions");
        rows.stream().limit(size).forEach(p -> arr.add(json(model, p)));
        if (rows.size() > size) {
            Permission last = rows.get(size - 1);
            out.put("nextPageToken", PageToken.encode(model.id(), last));
        }
        ctx.json(out);
    }

    private void patch(Context ctx) {
        TunedModelRecord model = owned(ctx, ctx.pathParam("id"), ModelAccess.Action.SHARE);
        Permission current = permission(model, ctx.pathParam("permission"));
        String mask = ctx.queryParam("updateMask") != null ? ctx.queryParam("updateMask") : ctx.queryParam("update_mask");
        Permission.Role role = PermissionRequests.patch(RequestBodies.json(ctx), mask, current);
        if (current.role() == Permission.Role.OWNER) {
            throw new InvalidRequestException("role: " + name(model, current) + " is the model's OWNER, whose role "
                    + "changes only by tunedModels.transferOwnership");
        }
        if (!permissions.updateRole(model.uid(), current.id(), role)) {
            throw notFound(model, current.id());
        }
        ctx.json(json(model, permission(model, current.id())));
    }

    private void delete(Context ctx) {
        TunedModelRecord model = owned(ctx, ctx.pathParam("id"), ModelAccess.Action.SHARE);
        Permission current = permission(model, ctx.pathParam("permission"));
        if (current.role() == Permission.Role.OWNER) {
            throw new InvalidRequestException("name: " + name(model, current) + " is the model's only OWNER and cannot "
                    + "be removed; transfer the ownership first (tunedModels.transferOwnership)");
        }
        if (!permissions.delete(model.uid(), current.id())) {
            throw notFound(model, current.id());
        }
        ctx.json(GoogleJson.MAPPER.createObjectNode());
    }

    /** {@code POST tunedModels/{id}:transferOwnership} {@code {"emailAddress"}}: the previous OWNER becomes a WRITER. */
    void transferOwnership(Context ctx, String id) {
        TunedModelRecord model = owned(ctx, id, ModelAccess.Action.TRANSFER);
        Permission newOwner = PermissionRequests.transfer(RequestBodies.json(ctx), TunedModelIds.random(12),
                Instant.now().toString());
        permissions.find(model.uid(), newOwner.granteeType(), newOwner.emailAddress())
                .filter(p -> p.role() == Permission.Role.OWNER)
                .ifPresent(p -> {
                    throw new InvalidRequestException("email_address '" + newOwner.emailAddress() + "' already owns "
                            + model.name());
                });
        permissions.transfer(model.uid(), newOwner);
        ctx.json(GoogleJson.MAPPER.createObjectNode());
    }

    private Permission permission(TunedModelRecord model, String id) {
        return permissions.get(model.uid(), id).orElseThrow(() -> notFound(model, id));
    }

    private static ServiceException notFound(TunedModelRecord model, String id) {
        return new ServiceException(Code.NOT_FOUND, model.name() + "/permissions/" + id + " not found");
    }

    private static String name(TunedModelRecord model, Permission p) {
        return model.name() + "/permissions/" + p.id();
    }

    private static String grantee(Permission p) {
        return p.granteeType() == Permission.GranteeType.EVERYONE ? "EVERYONE"
                : p.granteeType() + " " + p.emailAddress();
    }

    static ObjectNode json(TunedModelRecord model, Permission p) {
        ObjectNode n = GoogleJson.MAPPER.createObjectNode().put("name", name(model, p))
                .put("granteeType", p.granteeType().name());
        if (p.granteeType() != Permission.GranteeType.EVERYONE) {
            n.put("emailAddress", p.emailAddress());
        }
        return n.put("role", p.role().name());
    }

    /** The page token of permissions.list: the model it lists and the position after the page's last permission. */
    static final class PageToken {
        private static final String VERSION = "p1";

        private PageToken() {
        }

        static String encode(String modelId, Permission last) {
            return PageTokenText.encode(VERSION, modelId, last.createTime(), last.id());
        }

        static PermissionStore.ListPosition parse(String token, String modelId) {
            if (token == null) {
                return null;
            }
            String[] parts = PageTokenText.decode(token);
            if (parts == null || parts.length != 4 || !parts[0].equals(VERSION) || !parts[1].equals(modelId)
                    || !parts[3].matches("[a-z0-9]{1,40}") || !PageTokenText.isInstant(parts[2])) {
                throw notIssued();
            }
            return new PermissionStore.ListPosition(parts[2], parts[3]);
        }

        private static InvalidRequestException notIssued() {
            return new InvalidRequestException("page_token is not a token this server issued for this list of permissions");
        }
    }
}
