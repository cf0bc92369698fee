package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.engine.generate.GenerationThreads;
import dev.tuneforge.tuning.InvalidRequestException;
import dev.tuneforge.tuning.ServiceException;
import dev.tuneforge.tuning.ServiceException.Code;
import io.javalin.http.Context;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** The generation methods of a model: generateContent, streamGenerateContent and countTokens. */
final class GenerationEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(GenerationEndpoint.class);
    private final GenerationThreads generation;

    GenerationEndpoint(GenerationThreads generation) {
        this.generation = generation;
    }

    void handle(Context ctx, String method, GenerateContent.Target target) {
        JsonNode body = RequestBodies.json(ctx);
        switch (method) {
            case "generateContent" -> {
                RequestFieldsCheck.check(body, "", target);
                ConversationPrompt prompt = fitting(target, ConversationPrompt.of(target, Conversation.parse(body, ""), ""));
                GenerationOptions options = GenerateContent.options(body, target);
                int count = SamplingFields.candidateCount(body.path("generationConfig"));
                List<GenerationResult> results = generation.run(() -> {
                    List<GenerationResult> out = new ArrayList<>();
                    for (int i = 0; i < count; i++) {
                        out.add(GenerateContent.run(target, prompt, candidate(options, i), t -> { }));
                    }
                    return out;
                });
                ctx.json(new GenerateResponse(target, prompt.ids().length).complete(results));
            }
            case "streamGenerateContent" -> stream(ctx, body, target);
            case "countTokens" -> ctx.json(countTokens(body, target));
            default -> throw new ServiceException(Code.NOT_FOUND, "no such method: " + method
                    + " (generateContent, streamGenerateContent, countTokens)");
        }
    }

    /** {@code prompt}, refused before anything is generated or streamed when it leaves no room in the context. */
    private static ConversationPrompt fitting(GenerateContent.Target target, ConversationPrompt prompt) {
        int context = target.base().model().config().maxPositionEmbeddings();
        if (prompt.ids().length >= context) {
            throw new InvalidRequestException("contents: the prompt has " + prompt.ids().length + " tokens; the context of "
                    + target.modelVersion() + " is " + context + " tokens");
        }
        return prompt;
    }

    /** The options of candidate {@code index}: a seed of its own when the request gives one (seed + index). */
    private static GenerationOptions candidate(GenerationOptions options, int index) {
        return options.seed() == null || index == 0 ? options : options.withSeed(options.seed() + index);
    }

    /**
     * countTokens of {@code contents}, or of a whole {@code generateContentRequest} (its system instruction
     * included, as the model would see it).
     */
    private static ObjectNode countTokens(JsonNode body, GenerateContent.Target target) {
        JsonNode request = body.get("generateContentRequest");
        Conversation conversation;
        String prefix = "";
        if (request != null && !request.isNull()) {
            prefix = "generate_content_request.";
            if (body.has("contents")) {
                throw new InvalidRequestException("contents and generate_content_request are mutually exclusive: "
                        + "send one of them");
            }
            if (!request.isObject()) {
                throw new InvalidRequestException("generate_content_request must be an object");
            }
            JsonNode model = request.get("model");
            if (model != null && !model.isNull() && !model.asText().equals(target.modelVersion())) {
                throw new InvalidRequestException("generate_content_request.model is '" + model.asText()
                        + "', but the request is for " + target.modelVersion());
            }
            RequestFieldsCheck.check(request, prefix, target);
            GenerateContent.options(request, target);
            conversation = Conversation.parse(request, prefix);
        } else {
            conversation = Conversation.parse(body, prefix);
        }
        int tokens = ConversationPrompt.of(target, conversation, prefix).ids().length;
        ObjectNode out = GoogleJson.MAPPER.createObjectNode().put("totalTokens", tokens);
        out.putArray("promptTokensDetails").addObject().put("modality", "TEXT").put("tokenCount", tokens);
        return out;
    }

    /**
     * Streams the answer as it is generated (a generation thread writes the chunks). A client that goes away ends
     * the generation at its next chunk, with one line in the log: that is an ordinary event, not a failure.
     */
    private void stream(Context ctx, JsonNode body, GenerateContent.Target target) {
        RequestFieldsCheck.check(body, "", target);
        ConversationPrompt prompt = fitting(target, ConversationPrompt.of(target, Conversation.parse(body, ""), ""));
        GenerationOptions options = GenerateContent.options(body, target);
        boolean sse = "sse".equals(ctx.queryParam("alt"));
        ChunkWriter writer;
        try {
            writer = new ChunkWriter(ctx.res().getOutputStream(), sse);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ctx.status(200);
        ctx.res().setContentType(sse ? "text/event-stream" : "application/json");
        ctx.res().setCharacterEncoding("UTF-8");
        int count = SamplingFields.candidateCount(body.path("generationConfig"));
        GenerateResponse response = new GenerateResponse(target, prompt.ids().length);
        try {
            generation.run(() -> {
                int outputTokens = 0;
                for (int i = 0; i < count; i++) {
                    int index = i;
                    StringBuilder pending = new StringBuilder();
                    GenerationResult result = GenerateContent.run(target, prompt, candidate(options, i), piece -> {
                        if (pending.length() > 0) {
                            writer.write(response.chunk(index, pending.toString()));
                            pending.setLength(0);
                        }
                        pending.append(piece);
                    });
                    outputTokens += result.outputTokenCount();
                    writer.write(response.lastChunk(index, pending.toString(), result, outputTokens));
                }
                writer.finish();
                return null;
            });
        } catch (ChunkWriter.ClientGone e) {
            LOG.info("request_id={} client disconnected after {} chunks; generation stopped",
                    ctx.<String>attribute("requestId"), e.chunksWritten());
        }
    }
}
