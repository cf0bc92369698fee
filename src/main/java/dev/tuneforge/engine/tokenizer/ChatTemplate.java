package dev.tuneforge.engine.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Renders a Hugging Face chat template (Jinja) with Jinjava, as {@code apply_chat_template} does. */
public final class ChatTemplate {
    private final String template;
    private final Jinjava jinjava;
    private final String bosToken;
    private final String eosToken;

    public ChatTemplate(String template, String bosToken, String eosToken) {
        this.template = PythonIdioms.rewrite(template);
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
        PythonIdioms.register(jinjava);
    }

    public record Message(String role, String content) {
    }

    public String render(List<Message> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /** As {@code apply_chat_template} with extra template variables ({@code enable_thinking}, say). */
    public String render(List<Message> messages, boolean addGenerationPrompt, Map<String, Object> variables) {
        Map<String, Object> context = new HashMap<>(variables);
        context.put("messages", messages.stream().map(m -> Map.of("role", m.role(), "content", m.content())).toList());
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        RenderResult result = jinjava.renderForResult(template, context);
        var fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == com.hubspot.jinjava.interpret.TemplateError.ErrorType.FATAL).findFirst();
        if (fatal.isPresent()) {
            throw new IllegalArgumentException("chat template failed: " + fatal.get().getMessage());
        }
        return result.getOutput();
    }

    public static String raiseException(String message) {
        throw new IllegalArgumentException(message);
    }
}
