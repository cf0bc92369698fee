package dev.tuneforge.api;

import dev.tuneforge.tuning.InvalidRequestException;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The {@code filter} of tunedModels.list, as Google defines it: a full-text search over display name and
 * description (every word must appear, case-insensitively), plus the operators {@code owner:me},
 * {@code writers:me}, {@code readers:me} (the caller's own models: every model of its project, as tuned models
 * are not shared yet) and {@code readers:everyone} (models shared with everyone: none). The store applies it, in
 * SQL.
 */
record TunedModelFilter(List<String> words, boolean everyoneOnly) {

    static TunedModelFilter parse(String filter) {
        List<String> words = new ArrayList<>();
        boolean everyone = false;
        if (filter != null) {
            for (String term : filter.trim().split("\\s+")) {
                if (term.isEmpty()) {
                    continue;
                }
                String t = term.toLowerCase(Locale.ROOT);
                switch (t) {
                    case "owner:me", "writers:me", "readers:me" -> { }
                    case "readers:everyone" -> everyone = true;
                    default -> {
                        if (t.contains(":")) {
                            throw new InvalidRequestException("filter operator '" + term + "' is not supported "
                                    + "(owner:me, writers:me, readers:me, readers:everyone, or words to search)");
                        }
                        words.add(t);
                    }
                }
            }
        }
        return new TunedModelFilter(List.copyOf(words), everyone);
    }
}
