package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.NativeTeam;

import java.util.ArrayDeque;

/**
 * The pool of KV cache pages of a {@link TeamBatchDecoder}: each page holds {@link #POSITIONS} positions of every
 * layer's keys and values (per layer: keys [kvHeads, POSITIONS, headDim], then values the same; bf16 for a bf16 model,
 * else float32), mapped straight from the system. A sequence takes pages as it grows and gives them back when it ends;
 * the pool keeps at most a small reserve of free pages and unmaps the rest, so that a burst of requests does not leave
 * the process larger than before it. Used by the decoder's one thread, and by whichever thread closes a sequence.
 */
final class KvPages {
    /** Positions a page holds. */
    static final int POSITIONS = 16;
    /** Bytes of free pages kept for the next sequences, at most. */
    private static final long RESERVE_BYTES = 16L << 20;

    private final long pageBytes;
    private final int reservePages;
    private final ArrayDeque<Long> free = new ArrayDeque<>();
    private long held;

    KvPages(ModelConfig config, boolean bf16) {
        this.pageBytes = (long) config.numLayers() * 2 * config.numKvHeads() * POSITIONS * config.headDim()
                * (bf16 ? 2 : 4);
        this.reservePages = (int) Math.max(1, RESERVE_BYTES / pageBytes);
    }

    long pageBytes() {
        return pageBytes;
    }

    /** A page's address, from the reserve or freshly mapped. */
    synchronized long take() {
        Long page = free.pollLast();
        long address = page != null ? page : NativeTeam.mapPages(pageBytes);
        if (address == 0) {
            throw new OutOfMemoryError("no memory for a KV cache page of " + pageBytes + " bytes");
        }
        held++;
        return address;
    }

    /** Gives a page back: kept in the reserve while it has room, else unmapped. */
    synchronized void give(long address) {
        held--;
        if (free.size() < reservePages) {
            free.addLast(address);
        } else {
            NativeTeam.unmapPages(address, pageBytes);
        }
    }

    /** Bytes of pages held by sequences. */
    synchronized long bytesInUse() {
        return held * pageBytes;
    }

    /** Bytes of free pages kept mapped. */
    synchronized long bytesReserved() {
        return free.size() * pageBytes;
    }

    /** Unmaps the reserve (the decoder is closed). */
    synchronized void release() {
        while (!free.isEmpty()) {
            NativeTeam.unmapPages(free.pollLast(), pageBytes);
        }
    }
}
