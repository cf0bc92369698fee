package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.tokenizer.PromptFormat;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A model whose tokenizer_config.json has a chat template: prompts and labels follow the template. */
class ChatTemplateFormatTest {
    @TempDir
    Path tmp;

    @Test
    void templateTurnsFrameTheOutputAndTheirSpecialTokensAreTrained() throws Exception {
        for (String f : new String[]{"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"}) {
            Files.copy(Stories.DIR.resolve(f), tmp.resolve(f));
        }
        ObjectMapper om = new ObjectMapper();
        ObjectNode tc = (ObjectNode) om.readTree(Stories.DIR.resolve("tokenizer_config.json").toFile());
        tc.put("chat_template", "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                + "User: {{ message['content'] }}\n{% else %}Bot: {{ message['content'] }}{{ eos_token }}\n{% endif %}"
                + "{% endfor %}{% if add_generation_prompt %}Bot:{% endif %}");
        om.writeValue(tmp.resolve("tokenizer_config.json").toFile(), tc);
        TextTokenizer tok = new TextTokenizer(new HfModelDirectory(tmp));
        PromptFormat f = new PromptFormat(tok);
        assertTrue(f.usesChatTemplate());
        assertEquals("<s>User: 1\nBot:", f.promptText("1"));
        PromptFormat.TrainingSequence s = f.trainingSequence("1", "2");
        long[] prompt = f.promptIds("1");
        assertEquals(1, prompt[0], "the template's BOS text becomes the BOS token");
        assertEquals(1, Arrays.stream(prompt).filter(id -> id == 1).count(), "no second BOS from the tokenizer");
        assertArrayEquals(prompt, Arrays.copyOf(s.ids(), s.labelStart()));
        String completion = tok.decode(Arrays.copyOfRange(s.ids(), s.labelStart(), s.length()));
        assertEquals("2", completion.strip());
        long[] labels = Arrays.copyOfRange(s.ids(), s.labelStart(), s.length());
        assertTrue(Arrays.stream(labels).anyMatch(id -> id == 2), "the turn's </s> is a label");
        assertArrayEquals(new long[]{2}, f.addedTokenIds());
        assertEquals(Set.of(2L), f.stopIds());
    }
}
