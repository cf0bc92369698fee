package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.engine.generate.ContinuousBatcher;
import dev.tuneforge.tuning.InvalidRequestException;
import dev.tuneforge.tuning.ServiceException;
import dev.tuneforge.tuning.ServiceException.Code;
import io.javalin.http.Context;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicReference;

/** The generation methods of a model: generateContent, streamGenerateContent and countTokens. */
final class GenerationEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(GenerationEndpoint.class);
    private final GenerationBatches batches;

    GenerationEndpoint(GenerationBatches batches) {
        this.batches = batches;
    }

    void handle(Context ctx, String method, GenerateContent.Target target) {
        JsonNode body = RequestBodies.json(ctx);
        switch (method) {
            case "generateContent" -> {
                RequestFieldsCheck.check(body, "", target);
                ConversationPrompt prompt = fitting(target, ConversationPrompt.of(target, Conversation.parse(body, ""), ""));
                GenerationOptions options = GenerateContent.options(body, target);
                ContinuousBatcher.Generation generation = submit(ctx, body, target, prompt, options);
                AtomicReference<ContinuousBatcher.Phase> left = new AtomicReference<>();
                List<GenerationResult> results;
                try (ClientConnectionWatch watch = ClientConnectionWatch.start(ctx, () -> stop(generation, left))) {
                    results = generation.results();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ServiceException(Code.CANCELLED, "the request was cancelled");
                } catch (RuntimeException e) {
                    if (left.get() != null) {
                        throw clientGone(ctx, left.get(), -1);
                    }
                    throw failure(e);
                }
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

    /**
     * Queues the request's candidates (each a sequence of the base model's batch) with its deadline; refused at
     * once when the batch and its queue are full ({@link ContinuousBatcher.Busy}, answered 503).
     */
    private ContinuousBatcher.Generation submit(Context ctx, JsonNode body, GenerateContent.Target target,
                                                ConversationPrompt prompt, GenerationOptions options) {
        Duration timeout = ServerTimeout.of(ctx);
        int count = SamplingFields.candidateCount(body.path("generationConfig"));
        List<GenerationOptions> candidates = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            candidates.add(candidate(options, i));
        }
        try {
            return batches.of(target.base()).submit(new ContinuousBatcher.Request(prompt.ids(), target.adapter(),
                    candidates, prompt.stopIds(), timeout));
        } catch (CancellationException e) {
            throw failure(e);
        }
    }

    /** Stops a generation whose client went away, noting where it was then. */
    private static void stop(ContinuousBatcher.Generation generation, AtomicReference<ContinuousBatcher.Phase> left) {
        left.compareAndSet(null, generation.phase());
        generation.cancel();
    }

    /**
     * Logs and counts a generation stopped in {@code phase} because its client went away; the answer, which no one
     * reads, is CANCELLED (499, as the access log shows it).
     */
    private ServiceException clientGone(Context ctx, ContinuousBatcher.Phase phase, int chunks) {
        batches.clientDisconnects().record(ctx, phase, chunks);
        return new ServiceException(Code.CANCELLED, "the client disconnected");
    }

    /** The API's error for a generation that failed. */
    private static RuntimeException failure(RuntimeException e) {
        if (e instanceof ContinuousBatcher.DeadlineExceeded) {
            return new ServiceException(Code.DEADLINE_EXCEEDED, e.getMessage() + " (" + ServerTimeout.HEADER + ")");
        }
        if (e instanceof CancellationException) {
            return new ServiceException(Code.UNAVAILABLE, e.getMessage() + "; retry later");
        }
        return e;
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
     * Streams the answer as it is generated: the batch's thread hands each piece of text to this request's queue and
     * this (the request's) thread writes it, so a slow client only slows itself. Candidates are streamed one after
     * the other, in order (a later one's text waits until the earlier ones end). A client that goes away (a write
     * fails, or {@link ClientConnectionWatch} sees the connection close while the request waits in the queue, its
     * prompt is read or its next text is computed) cancels the generation, which leaves the queue at once and the
     * batch at its next step, with one line in the log: that is an ordinary event, not a failure. A failure before
     * the first chunk is answered with its status; after it, as the stream's last element, an error object.
     */
    private void stream(Context ctx, JsonNode body, GenerateContent.Target target) {
        RequestFieldsCheck.check(body, "", target);
        ConversationPrompt prompt = fitting(target, ConversationPrompt.of(target, Conversation.parse(body, ""), ""));
        GenerationOptions options = GenerateContent.options(body, target);
        boolean sse = "sse".equals(ctx.queryParam("alt"));
        ContinuousBatcher.Generation generation = submit(ctx, body, target, prompt, options);
        int count = SamplingFields.candidateCount(body.path("generationConfig"));
        GenerateResponse response = new GenerateResponse(target, prompt.ids().length);
        List<ArrayDeque<ContinuousBatcher.Event>> later = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            later.add(new ArrayDeque<>());
        }
        ChunkWriter writer = null;
        int chunks = 0;
        AtomicReference<ContinuousBatcher.Phase> left = new AtomicReference<>();
        try (ClientConnectionWatch watch = ClientConnectionWatch.start(ctx, () -> stop(generation, left))) {
            StringBuilder pending = new StringBuilder();
            int current = 0;
            int outputTokens = 0;
            while (current < count) {
                ContinuousBatcher.Event event = later.get(current).isEmpty() ? generation.next()
                        : later.get(current).poll();
                if (event instanceof ContinuousBatcher.Failed failed) {
                    if (left.get() != null) {
                        ServiceException gone = clientGone(ctx, left.get(), chunks);
                        if (writer == null) {
                            throw gone;
                        }
                        return;
                    }
                    RuntimeException error = failure(failed.error());
                    if (writer == null) {
                        throw error;
                    }
                    LOG.info("request_id={} generation failed mid-stream: {}", ctx.<String>attribute("requestId"),
                            error.getMessage());
                    writer.write(errorChunk(error));
                    writer.finish();
                    return;
                }
                int index = event instanceof ContinuousBatcher.Text t ? t.index()
                        : ((ContinuousBatcher.Finished) event).index();
                if (index != current) {
                    later.get(index).add(event);
                    continue;
                }
                if (writer == null) {
                    writer = open(ctx, sse);
                }
                if (event instanceof ContinuousBatcher.Text text) {
                    // one piece held back, so that the last chunk carries text with the finish reason
                    if (pending.length() > 0) {
                        writer.write(response.chunk(index, pending.toString()));
                        chunks++;
                        pending.setLength(0);
                    }
                    pending.append(text.text());
                } else {
                    GenerationResult result = ((ContinuousBatcher.Finished) event).result();
                    outputTokens += result.outputTokenCount();
                    writer.write(response.lastChunk(index, pending.toString(), result, outputTokens));
                    chunks++;
                    pending.setLength(0);
                    current++;
                }
            }
            writer.finish();
        } catch (ChunkWriter.ClientGone e) {
            stop(generation, left);
            clientGone(ctx, left.get(), e.chunksWritten());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.info("request_id={} interrupted after {} chunks; generation stopped", ctx.<String>attribute("requestId"),
                    chunks);
        } catch (RuntimeException e) {
            generation.cancel();
            throw e;
        }
    }

    private static ChunkWriter open(Context ctx, boolean sse) {
        ChunkWriter writer;
        try {
            writer = new ChunkWriter(ctx.res().getOutputStream(), sse);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ctx.status(200);
        ctx.res().setContentType(sse ? "text/event-stream" : "application/json");
        ctx.res().setCharacterEncoding("UTF-8");
        return writer;
    }

    /** Google's error object, as the last element of a stream that had begun. */
    private static ObjectNode errorChunk(RuntimeException error) {
        Code code = error instanceof ServiceException s ? s.code() : Code.INTERNAL;
        String message = error instanceof ServiceException ? error.getMessage() : "internal error";
        try {
            return (ObjectNode) GoogleJson.MAPPER.readTree(GoogleError.json(code.httpStatus(), code.name(), message));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
