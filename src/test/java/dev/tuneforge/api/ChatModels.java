package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Base models for tests: the bundled stories-260k weights and tokenizer with a chat template of choice. */
final class ChatModels {
    /** A template that renders user and assistant turns only: a system message has no place in it. */
    static final String WITHOUT_SYSTEM = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}"
            + "User: {{ m['content'] }}\n{% elif m['role'] == 'assistant' %}Bot: {{ m['content'] }}{{ eos_token }}\n"
            + "{% endif %}{% endfor %}{% if add_generation_prompt %}Bot:{% endif %}";

    private ChatModels() {
    }

    /** The published Gemma 3 chat template (test resource chat-templates/gemma3.json). */
    static String gemma3Template() {
        try (InputStream in = ChatModels.class.getResourceAsStream("/chat-templates/gemma3.json")) {
            return new ObjectMapper().readTree(in).get("template").asText();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes stories-260k with {@code template} as its chat template into {@code dir}. */
    static Path write(Path dir, String template) throws IOException {
        Path stories = Path.of("models/stories-260k");
        Files.createDirectories(dir);
        for (String f : new String[]{"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"}) {
            Files.copy(stories.resolve(f), dir.resolve(f));
        }
        ObjectMapper om = new ObjectMapper();
        ObjectNode tc = (ObjectNode) om.readTree(stories.resolve("tokenizer_config.json").toFile());
        tc.put("chat_template", template);
        om.writeValue(dir.resolve("tokenizer_config.json").toFile(), tc);
        return dir;
    }

    /** A server config with stories-260k (no template), stories-chat (Gemma 3's) and stories-nosystem. */
    static ServerConfig config(Path dataDir) throws IOException {
        Path chat = write(dataDir.resolve("stories-chat"), gemma3Template());
        Path noSystem = write(dataDir.resolve("stories-nosystem"), WITHOUT_SYSTEM);
        ObjectMapper om = new ObjectMapper();
        ObjectNode c = om.createObjectNode();
        var models = c.putArray("baseModels");
        models.addObject().put("id", "stories-260k").put("path", Path.of("models/stories-260k").toAbsolutePath().toString());
        models.addObject().put("id", "stories-chat").put("path", chat.toAbsolutePath().toString());
        models.addObject().put("id", "stories-nosystem").put("path", noSystem.toAbsolutePath().toString());
        c.putObject("aliases").put("gemini-1.0-pro-001", "stories-260k");
        Path file = dataDir.resolve("tuneforge.json");
        om.writeValue(file.toFile(), c);
        return ServerConfig.read(file, dataDir);
    }

    static JsonNode json(String s) {
        try {
            return new ObjectMapper().readTree(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
