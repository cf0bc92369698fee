package dev.tuneforge.engine.tokenizer;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * How an input/output pair becomes tokens (SPEC §5): the base model's chat template when it has one (the input as
 * the user turn, the output as the assistant turn), else {@code input + "\n" + output + EOS}. Inference feeds the
 * same prompt that training put before the output.
 */
public final class PromptFormat {
    private final TextTokenizer tokenizer;
    private final ChatTemplate chatTemplate;

    /** A tokenized example: {@code ids[labelStart..]} are the output tokens the loss is computed on. */
    public record TrainingSequence(long[] ids, int labelStart) {
        public int length() {
            return ids.length;
        }
    }

    public PromptFormat(TextTokenizer tokenizer) {
        this.tokenizer = tokenizer;
        this.chatTemplate = tokenizer.chatTemplate() == null ? null
                : new ChatTemplate(tokenizer.chatTemplate(), tokenizer.bosToken(), tokenizer.eosToken());
    }

    public boolean usesChatTemplate() {
        return chatTemplate != null;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    /** The prompt text for an input: everything up to where the output starts. */
    public String promptText(String input) {
        if (chatTemplate == null) {
            return input + "\n";
        }
        return chatTemplate.render(List.of(new ChatTemplate.Message("user", input)), true);
    }

    public long[] promptIds(String input) {
        // chat templates write their own BOS text, as apply_chat_template tokenizes without special tokens
        return tokenizer.encode(promptText(input), chatTemplate == null);
    }

    /**
     * The prompt of a conversation ({@code turns}: roles user and model alternating, the last a user turn), as a
     * tuned model continues it. With a chat template: the template's rendering of the optional system message and
     * the turns (model as {@code assistant}), with the generation prompt. Without one, each earlier exchange as
     * training formats an example ({@code BOS input "\n" output EOS}) followed by the last turn's prompt
     * ({@code BOS input "\n"}); a system instruction is put before the first user turn's text, with a blank line.
     * A single user turn without system instruction gives {@link #promptIds(String)}.
     */
    public long[] conversationIds(String system, List<ChatTemplate.Message> turns) {
        if (chatTemplate != null) {
            return tokenizer.encode(conversationText(system, turns), false);
        }
        List<String> texts = new java.util.ArrayList<>(turns.stream().map(ChatTemplate.Message::content).toList());
        if (system != null) {
            texts.set(0, system + "\n\n" + texts.get(0));
        }
        java.util.stream.LongStream.Builder ids = java.util.stream.LongStream.builder();
        for (int i = 0; i + 1 < texts.size(); i += 2) {
            for (long id : tokenizer.encode(texts.get(i) + "\n" + texts.get(i + 1), true)) {
                ids.add(id);
            }
            ids.add(tokenizer.eosId());
        }
        for (long id : tokenizer.encode(texts.getLast() + "\n", true)) {
            ids.add(id);
        }
        return ids.build().toArray();
    }

    /**
     * A conversation rendered by the chat template with its generation prompt. Throws IllegalArgumentException
     * when the template refuses it, or when the rendering leaves out the text of a message (a template that has no
     * place for a system message, say): a message is never dropped silently.
     */
    public String conversationText(String system, List<ChatTemplate.Message> turns) {
        List<ChatTemplate.Message> messages = new java.util.ArrayList<>();
        if (system != null) {
            messages.add(new ChatTemplate.Message("system", system));
        }
        messages.addAll(turns);
        String rendered = chatTemplate.render(messages, true);
        for (ChatTemplate.Message m : messages) {
            if (!rendered.contains(m.content().strip())) {
                throw new IllegalArgumentException("the chat template leaves out the " + m.role() + " message");
            }
        }
        return rendered;
    }

    public TrainingSequence trainingSequence(String input, String output) {
        String prompt = promptText(input);
        long[] promptIds = promptIds(input);
        String full;
        boolean appendEos;
        if (chatTemplate == null) {
            full = prompt + output;
            appendEos = true;
        } else {
            full = chatTemplate.render(List.of(new ChatTemplate.Message("user", input),
                    new ChatTemplate.Message("assistant", output)), false);
            if (!full.startsWith(prompt)) {
                throw new IllegalArgumentException("the chat template renders the conversation so that it does not "
                        + "start with its generation prompt; cannot separate the output");
            }
            appendEos = false;
        }
        long[] fullIds = tokenizer.encode(full, chatTemplate == null);
        long[] completion;
        if (startsWith(fullIds, promptIds)) {
            completion = Arrays.copyOfRange(fullIds, promptIds.length, fullIds.length);
        } else {
            // a token merged across the boundary: keep the prompt exactly as inference will see it
            completion = tokenizer.encode(full.substring(prompt.length()), false);
        }
        int extra = appendEos ? 1 : 0;
        long[] ids = Arrays.copyOf(promptIds, promptIds.length + completion.length + extra);
        System.arraycopy(completion, 0, ids, promptIds.length, completion.length);
        if (appendEos) {
            ids[ids.length - 1] = tokenizer.eosId();
        }
        return new TrainingSequence(ids, promptIds.length);
    }

    /**
     * The tokens the format itself adds around the text (the stop token; a chat template's special tokens other
     * than BOS): their embedding rows are trained alongside the adapters so the tuned model learns to stop.
     */
    public long[] addedTokenIds() {
        Set<Long> ids = new LinkedHashSet<>();
        if (chatTemplate == null) {
            ids.add((long) tokenizer.eosId());
        } else {
            TrainingSequence probe = trainingSequence("x", "y");
            for (long id : probe.ids()) {
                if (tokenizer.isSpecial(id) && (tokenizer.bosId() == null || id != tokenizer.bosId())) {
                    ids.add(id);
                }
            }
        }
        return ids.stream().mapToLong(Long::longValue).sorted().toArray();
    }

    /** Token ids that end generation: the model's EOS ids plus the special token that closes a template's turn. */
    public Set<Long> stopIds() {
        Set<Long> stops = new LinkedHashSet<>();
        tokenizer.eosIds().forEach(i -> stops.add((long) i));
        if (chatTemplate != null) {
            TrainingSequence probe = trainingSequence("x", "y");
            for (int i = probe.labelStart(); i < probe.length(); i++) {
                if (tokenizer.isSpecial(probe.ids()[i])) {
                    stops.add(probe.ids()[i]);
                    break;
                }
            }
        }
        return stops;
    }

    private static boolean startsWith(long[] a, long[] prefix) {
        return a.length >= prefix.length && Arrays.equals(a, 0, prefix.length, prefix, 0, prefix.length);
    }
}
