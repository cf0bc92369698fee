package dev.tuneforge.api;

import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.tokenizer.ChatTemplate;
import dev.tuneforge.tuning.InvalidRequestException;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The prompt tokens of a conversation on a target and the tokens that end its answer. A tuned model, or a base
 * model with a chat template, gets the conversation as its prompt format renders it
 * ({@link dev.tuneforge.engine.tokenizer.PromptFormat#conversationIds}); a base model without a chat template
 * continues the text of the system instruction and the turns joined by newlines (BOS first), which for one turn
 * is the text as given.
 */
record ConversationPrompt(long[] ids, Set<Long> stopIds) {

    static ConversationPrompt of(GenerateContent.Target target, Conversation conversation, String prefix) {
        BaseModel base = target.base();
        boolean chat = target.tuned() || base.promptFormat().usesChatTemplate();
        try {
            if (!chat) {
                List<String> texts = new ArrayList<>();
                if (conversation.systemInstruction() != null) {
                    texts.add(conversation.systemInstruction());
                }
                conversation.turns().forEach(t -> texts.add(t.text()));
                return new ConversationPrompt(base.tokenizer().encode(String.join("\n", texts), true), base.eosIds());
            }
            List<ChatTemplate.Message> turns = conversation.turns().stream()
                    .map(t -> new ChatTemplate.Message(t.role().equals("model") ? "assistant" : "user", t.text()))
                    .toList();
            return new ConversationPrompt(base.promptFormat().conversationIds(conversation.systemInstruction(), turns),
                    base.promptFormat().stopIds());
        } catch (IllegalArgumentException e) {
            String field = conversation.systemInstruction() != null && e.getMessage().contains("system")
                    ? "system_instruction" : "contents";
            throw new InvalidRequestException(prefix + field + ": the chat template of " + target.modelVersion()
                    + " cannot render this conversation: " + e.getMessage());
        }
    }
}
