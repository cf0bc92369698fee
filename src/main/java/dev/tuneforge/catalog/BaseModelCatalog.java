package dev.tuneforge.catalog;

import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.model.HfModelDirectory;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The base models this server tunes and serves (Hugging Face directories), plus aliases such as
 * {@code gemini-1.0-pro-001} that map Google's names onto one of them. Each model is loaded once, on first use,
 * and shared by every tuning job and tuned model built on it.
 */
public final class BaseModelCatalog {
    /**
     * A configured base model: a local Hugging Face directory, or a Hub repo ({@code hubRepo} at {@code revision})
     * downloaded into the cache on first use; its frozen weights are held in {@code dtype} (float32 by default).
     */
    public record Entry(String id, Path directory, String hubRepo, String revision, String displayName,
                        String description, ScalarType dtype) {
        public Entry(String id, Path directory, String displayName, String description) {
            this(id, directory, null, null, displayName, description, ScalarType.Float);
        }

        public static Entry hub(String id, String repo, String revision, String displayName, String description) {
            return new Entry(id, null, repo, revision == null ? "main" : revision, displayName, description,
                    ScalarType.Float);
        }

        public Entry withDtype(ScalarType dtype) {
            return new Entry(id, directory, hubRepo, revision, displayName, description, dtype);
        }
    }

    private HubDownloader downloader;

    private final Map<String, Entry> models = new LinkedHashMap<>();
    private final Map<String, String> aliases = new LinkedHashMap<>();
    private final Map<String, BaseModel> loaded = new ConcurrentHashMap<>();
    private final Map<String, HfModelDirectory> directories = new ConcurrentHashMap<>();
    private Path preparedWeights;

    public BaseModelCatalog downloader(HubDownloader downloader) {
        this.downloader = downloader;
        return this;
    }

    /**
     * Where the base models' matrices are prepared once and memory-mapped from (see
     * {@code engine.model.PreparedWeights}); null (the default) holds them in each process's memory.
     */
    public BaseModelCatalog preparedWeights(Path directory) {
        this.preparedWeights = directory;
        return this;
    }

    public BaseModelCatalog add(Entry entry) {
        models.put(entry.id(), entry);
        return this;
    }

    public BaseModelCatalog alias(String alias, String target) {
        if (!models.containsKey(target)) {
            throw new IllegalArgumentException("alias " + alias + " points to unknown base model " + target);
        }
        aliases.put(alias, target);
        return this;
    }

    /** The bundled default: stories-260k, with the Gemini model names of the tutorial as aliases. */
    public static BaseModelCatalog withDefault(Path storiesDir) {
        return new BaseModelCatalog()
                .add(new Entry("stories-260k", storiesDir, "Stories 260K",
                        "A 260K-parameter Llama trained on TinyStories (bundled default base model)"))
                .alias("gemini-1.0-pro-001", "stories-260k")
                .alias("gemini-1.5-flash-001-tuning", "stories-260k");
    }

    /** The configured model a name ({@code models/x} or {@code x}, alias or id) stands for, or null. */
    public Entry resolve(String name) {
        String id = name.startsWith("models/") ? name.substring("models/".length()) : name;
        String target = aliases.getOrDefault(id, id);
        return models.get(target);
    }

    public boolean isAlias(String id) {
        return aliases.containsKey(id);
    }

    public String aliasTarget(String id) {
        return aliases.get(id);
    }

    /** The dtype of every configured base. */
    public List<ScalarType> dtypes() {
        return models.values().stream().map(Entry::dtype).toList();
    }

    /** Ids of models and aliases, models first. */
    public List<String> ids() {
        List<String> out = new ArrayList<>(models.keySet());
        out.addAll(aliases.keySet());
        return out;
    }

    /** The model's local directory, downloaded from the Hub first when it is a Hub repo. */
    public HfModelDirectory directory(Entry e) {
        return directories.computeIfAbsent(e.id(), k -> new HfModelDirectory(localPath(e)));
    }

    /** The loaded, shared base model. */
    public BaseModel load(Entry e) {
        return loaded.computeIfAbsent(e.id(), k -> new BaseModel(directory(e), e.dtype(), preparedWeights));
    }

    private Path localPath(Entry e) {
        if (e.hubRepo() == null) {
            return e.directory();
        }
        if (downloader == null) {
            throw new IllegalStateException("base model " + e.id() + " comes from the Hub but no cache is configured");
        }
        return downloader.ensure(e.hubRepo(), e.revision());
    }
}
