package dev.tuneforge.api;

import dev.tuneforge.auth.AuthException;
import dev.tuneforge.auth.Caller;
import dev.tuneforge.auth.Identities;
import dev.tuneforge.store.Permission.Role;
import dev.tuneforge.store.TunedModelRecord;
import dev.tuneforge.store.TunedModelStore;
import dev.tuneforge.tuning.InvalidRequestException;
import dev.tuneforge.tuning.ServiceException;
import dev.tuneforge.tuning.ServiceException.Code;

import java.util.List;

/**
 * Who may do what with a tuned model: the one place the sharing policy lives. A caller's role on a model is the
 * highest its permissions grant it (as a user, through its project's or its other groups, or as one of everyone);
 * each {@link Action} needs a role. A model the caller holds no role on does not exist for it (NOT_FOUND, as
 * another project's models always were); one it holds too small a role on is PERMISSION_DENIED.
 * <p>
 * Ids are unique within a project only, so {@code tunedModels/ID} is resolved as: the model of the caller's own
 * project with that id when the caller holds a role on it, else the one model with that id shared with the caller
 * from another project (several such: FAILED_PRECONDITION, as no name could tell them apart).
 */
final class ModelAccess {
    /** What a caller does with a model, and the role it needs. */
    enum Action {
        GET(Role.READER, "getting"),
        USE(Role.READER, "using"),
        TUNE_FROM(Role.READER, "tuning further"),
        READ_OPERATIONS(Role.READER, "reading the operations of"),
        PATCH(Role.WRITER, "updating"),
        CANCEL(Role.OWNER, "cancelling the tuning of"),
        DELETE(Role.OWNER, "deleting"),
        SHARE(Role.OWNER, "reading or changing the permissions of"),
        TRANSFER(Role.OWNER, "transferring the ownership of");

        private final Role needs;
        private final String doing;

        Action(Role needs, String doing) {
            this.needs = needs;
            this.doing = doing;
        }

        Role needs() {
            return needs;
        }
    }

    /** A model and the role the caller holds on it. */
    record Granted(TunedModelRecord model, Role role) {
    }

    private final TunedModelStore models;

    ModelAccess(TunedModelStore models) {
        this.models = models;
    }

    /**
     * Checks that the caller may tune {@code sourceName} further (tunedModelSource): it needs READER, and the model
     * must be its project's own (the job finds its source by the project's id).
     */
    void requireTuningSource(Caller caller, String project, String sourceName) {
        String id = sourceName.startsWith("tunedModels/") ? sourceName.substring("tunedModels/".length()) : sourceName;
        Granted source;
        try {
            source = require(caller, project, id, Action.TUNE_FROM);
        } catch (ServiceException e) {
            throw new ServiceException(e.code(), "tuned_model_source.tuned_model: " + e.getMessage());
        }
        if (!source.model().project().equals(project)) {
            throw new InvalidRequestException("tuned_model_source.tuned_model " + sourceName + " is shared from another "
                    + "project; only a project's own models can be tuned further");
        }
    }

    /** The model {@code tunedModels/id} as {@code caller}, acting for {@code project}, may do {@code action} with. */
    Granted require(Caller caller, String project, String id, Action action) {
        List<TunedModelStore.Accessible> found = models.accessible(id, Identities.principals(caller, project));
        TunedModelStore.Accessible chosen = found.stream().filter(a -> a.model().project().equals(project)).findFirst()
                .orElse(null);
        if (chosen == null) {
            if (found.isEmpty()) {
                throw new ServiceException(Code.NOT_FOUND, "tunedModels/" + id + " not found");
            }
            if (found.size() > 1) {
                throw new ServiceException(Code.FAILED_PRECONDITION, "tunedModels/" + id + " names " + found.size()
                        + " models shared with the caller from other projects; the caller cannot tell them apart by "
                        + "name (ask their owners to share only one, or act for a project that has its own)");
            }
            chosen = found.get(0);
        }
        if (!chosen.role().allows(action.needs)) {
            throw AuthException.denied(action.doing + " tunedModels/" + id + " needs the role " + action.needs
                    + "; the caller holds " + chosen.role());
        }
        return new Granted(chosen.model(), chosen.role());
    }
}
