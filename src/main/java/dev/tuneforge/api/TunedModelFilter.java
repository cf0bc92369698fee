package dev.tuneforge.api;

import dev.tuneforge.store.Permission.Role;
import dev.tuneforge.store.Principals;
import dev.tuneforge.store.TunedModelStore;
import dev.tuneforge.tuning.InvalidRequestException;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The {@code filter} of tunedModels.list, as Google defines it: a full-text search over display name and
 * description (every word must appear, case-insensitively), plus the operators {@code readers:me},
 * {@code writers:me}, {@code owner:me} (models the caller holds at least that role on by name: as a user or through
 * one of its groups, its project's included) and {@code readers:everyone} (models shared with everyone). Without an
 * operator the list is {@code readers:me}; several operators must all hold. The store applies it, in SQL.
 */
record TunedModelFilter(List<String> words, Role directRole, boolean sharedWithEveryone) {

    static TunedModelFilter parse(String filter) {
        List<String> words = new ArrayList<>();
        Role direct = null;
        boolean everyone = false;
        if (filter != null) {
            for (String term : filter.trim().split("\\s+")) {
                if (term.isEmpty()) {
                    continue;
                }
                String t = term.toLowerCase(Locale.ROOT);
                Role role = switch (t) {
                    case "readers:me" -> Role.READER;
                    case "writers:me" -> Role.WRITER;
                    case "owner:me" -> Role.OWNER;
                    default -> null;
                };
                if (role != null) {
                    direct = direct == null || role.allows(direct) ? role : direct;
                } else if (t.equals("readers:everyone")) {
                    everyone = true;
                } else if (t.contains(":")) {
                    throw new InvalidRequestException("filter operator '" + term + "' is not supported "
                            + "(owner:me, writers:me, readers:me, readers:everyone, or words to search)");
                } else {
                    words.add(t);
                }
            }
        }
        if (direct == null && !everyone) {
            direct = Role.READER;
        }
        return new TunedModelFilter(List.copyOf(words), direct, everyone);
    }

    TunedModelStore.Access access(Principals principals) {
        return new TunedModelStore.Access(principals, directRole, sharedWithEveryone);
    }
}
