package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes streamGenerateContent's chunks as they come: server-sent events ({@code alt=sse}) or the elements of one
 * JSON array. A write that fails means the client went away: {@link ClientGone}, which stops the generation.
 */
final class ChunkWriter {
    /** The client closed the connection; the generation writing to it should stop. */
    static final class ClientGone extends RuntimeException {
        private final int chunksWritten;

        ClientGone(int chunksWritten, IOException cause) {
            super("the client disconnected", cause, false, false);
            this.chunksWritten = chunksWritten;
        }

        int chunksWritten() {
            return chunksWritten;
        }
    }

    private final OutputStream out;
    private final boolean sse;
    private int written;

    ChunkWriter(OutputStream out, boolean sse) {
        this.out = out;
        this.sse = sse;
    }

    void write(ObjectNode chunk) {
        String json = chunk.toString();
        send(sse ? "data: " + json + "\r\n\r\n" : (written == 0 ? "[" : ",\r\n") + json);
        written++;
    }

    /** Closes the JSON array (nothing for server-sent events) and flushes. */
    void finish() {
        if (!sse) {
            send(written == 0 ? "[]" : "]");
        }
    }

    private void send(String text) {
        try {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            throw new ClientGone(written, e);
        }
    }
}
