package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.engine.tokenizer.ChatTemplate;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The published Gemma 3 and Qwen3 chat templates, rendered by {@link ChatTemplate} (Jinjava, with the Python
 * idioms Jinjava lacks rewritten by PythonIdioms), give exactly what transformers' {@code apply_chat_template}
 * (Jinja2) gave for the same conversations, multi-turn and system messages included.
 */
class ChatTemplateConformanceTest {
    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "qwen3"})
    void rendersAsTransformersDoes(String name) throws Exception {
        JsonNode fixture;
        try (InputStream in = getClass().getResourceAsStream("/chat-templates/" + name + ".json")) {
            fixture = new ObjectMapper().readTree(in);
        }
        ChatTemplate template = new ChatTemplate(fixture.get("template").asText(),
                fixture.path("bos_token").asText(null), fixture.path("eos_token").asText(null));
        for (JsonNode c : fixture.get("cases")) {
            List<ChatTemplate.Message> messages = new ArrayList<>();
            c.get("messages").forEach(m -> messages.add(new ChatTemplate.Message(m.get("role").asText(),
                    m.get("content").asText())));
            assertEquals(c.get("rendered").asText(), template.render(messages, c.get("add_generation_prompt").asBoolean()),
                    name + " " + c.get("messages"));
        }
    }
}
