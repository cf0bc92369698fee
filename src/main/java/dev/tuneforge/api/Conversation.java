package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.tuning.InvalidRequestException;
import dev.tuneforge.tuning.TuningRequestParser;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The {@code contents} and {@code systemInstruction} of a generate request: turns that alternate user, model,
 * user, …, starting and ending with a user turn, each the text of its parts.
 */
record Conversation(String systemInstruction, List<Turn> turns) {
    /** One turn: role {@code user} or {@code model}, and its parts' text joined. */
    record Turn(String role, String text) {
    }

    Conversation {
        turns = List.copyOf(turns);
    }

    /** The characters of every turn and of the system instruction together. */
    int characters() {
        return turns.stream().mapToInt(t -> t.text().length()).sum()
                + (systemInstruction == null ? 0 : systemInstruction.length());
    }

    /**
     * Reads {@code contents} and {@code systemInstruction} of {@code body}; {@code prefix} is put before the field
     * names in messages (e.g. {@code "generate_content_request."}).
     */
    static Conversation parse(JsonNode body, String prefix) {
        JsonNode contents = body.get("contents");
        if (contents == null || contents.isNull() || !contents.isArray() || contents.isEmpty()) {
            throw new InvalidRequestException(prefix + "contents is required: a list of turns, each with text parts");
        }
        List<Turn> turns = new ArrayList<>();
        for (int i = 0; i < contents.size(); i++) {
            String at = prefix + "contents[" + i + "]";
            JsonNode content = contents.get(i);
            if (!content.isObject()) {
                throw new InvalidRequestException(at + " must be an object with role and parts");
            }
            String expected = i % 2 == 0 ? "user" : "model";
            String role = role(content, at, contents.size() == 1 ? "user" : null);
            if (!role.equals(expected)) {
                throw new InvalidRequestException(at + ".role must be '" + expected + "', got '" + role
                        + "': turns alternate user, model, user, ..., starting with a user turn");
            }
            turns.add(new Turn(role, text(content, at)));
        }
        if (!turns.getLast().role().equals("user")) {
            throw new InvalidRequestException(prefix + "contents[" + (turns.size() - 1)
                    + "].role must be 'user': the last turn is the one the model answers");
        }
        String system = null;
        JsonNode instruction = body.get("systemInstruction");
        if (instruction != null && !instruction.isNull()) {
            String at = prefix + "system_instruction";
            if (!instruction.isObject()) {
                throw new InvalidRequestException(at + " must be a content object with text parts");
            }
            String role = instruction.path("role").asText("system");
            if (!role.equals("system") && !role.equals("user")) {
                throw new InvalidRequestException(at + ".role must be 'system' or 'user' (or absent), got '" + role + "'");
            }
            system = text(instruction, at);
        }
        Conversation conversation = new Conversation(system, turns);
        if (conversation.characters() > TuningRequestParser.MAX_INPUT_CHARS) {
            throw new InvalidRequestException(prefix + "contents: the conversation has " + conversation.characters()
                    + " characters (system instruction included); the limit is " + TuningRequestParser.MAX_INPUT_CHARS);
        }
        return conversation;
    }

    private static String role(JsonNode content, String at, String fallback) {
        JsonNode role = content.get("role");
        if (role == null || role.isNull() || role.asText().isEmpty()) {
            if (fallback == null) {
                throw new InvalidRequestException(at + ".role is required in a conversation of several turns "
                        + "('user' or 'model')");
            }
            return fallback;
        }
        if (!role.isTextual()) {
            throw new InvalidRequestException(at + ".role must be a string, got " + role);
        }
        return role.asText();
    }

    private static String text(JsonNode content, String at) {
        JsonNode parts = content.get("parts");
        if (parts == null || parts.isNull() || !parts.isArray() || parts.isEmpty()) {
            throw new InvalidRequestException(at + ".parts is required: a list of text parts");
        }
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < parts.size(); i++) {
            JsonNode part = parts.get(i);
            JsonNode t = part.get("text");
            if (t == null || !t.isTextual()) {
                throw new InvalidRequestException(at + ".parts[" + i + "]: only text parts are supported"
                        + otherKind(part));
            }
            text.append(t.asText());
        }
        if (text.toString().isBlank()) {
            throw new InvalidRequestException(at + ".parts: the turn has no text");
        }
        return text.toString();
    }

    private static String otherKind(JsonNode part) {
        if (!part.isObject()) {
            return "";
        }
        Iterator<String> names = part.fieldNames();
        return names.hasNext() ? " (got " + names.next() + ")" : "";
    }
}
