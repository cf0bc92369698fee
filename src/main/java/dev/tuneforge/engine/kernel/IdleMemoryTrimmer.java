package dev.tuneforge.engine.kernel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Hands the C heap's free memory back to the system once the process has gone quiet. The launcher's glibc settings
 * keep freed memory for reuse (no trimming, no fresh mmaps: see {@link FreedMemory}), so a burst of requests —
 * prompts' intermediates, logits, sampling buffers of many sequences at once — left a server at its burst's size
 * for good. Checked every {@code period}: when the process used under {@code idleCpuShare} of one core over the
 * last period (no decoding, no training step) and its resident size grew by {@code minGrowthBytes} or more since
 * the last trim, or the garbage collector ran since then (a collection frees the native memory of unreachable
 * tensors, e.g. an int8 base's 0.5 GB dequantized embedding copy, without growing the resident size: it stayed
 * resident after a trim had already run), it trims. Never while work runs, so a busy server or a tuning job does not
 * pay for faulting the memory in again.
 */
public final class IdleMemoryTrimmer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(IdleMemoryTrimmer.class);
    private final ScheduledExecutorService timer;
    private final LongSupplier cpuNanos;
    private final LongSupplier resident;
    private final LongSupplier collections;
    private final Runnable trim;
    private final double idleCpuShare;
    private final long minGrowthBytes;
    private final long periodNanos;
    private long lastCpu;
    private long residentAfterTrim;
    private long collectionsAtTrim;
    private int trims;

    /** {@code collections}: how many garbage collections have run (any count that grows with each). */
    IdleMemoryTrimmer(Duration period, double idleCpuShare, long minGrowthBytes, LongSupplier cpuNanos,
                      LongSupplier resident, LongSupplier collections, Runnable trim, boolean start) {
        this.cpuNanos = cpuNanos;
        this.resident = resident;
        this.collections = collections;
        this.collectionsAtTrim = collections.getAsLong();
        this.trim = trim;
        this.idleCpuShare = idleCpuShare;
        this.minGrowthBytes = minGrowthBytes;
        this.periodNanos = period.toNanos();
        this.lastCpu = cpuNanos.getAsLong();
        this.residentAfterTrim = resident.getAsLong();
        if (start) {
            timer = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("idle-memory-trimmer")
                    .unstarted(r));
            timer.scheduleWithFixedDelay(this::check, periodNanos, periodNanos, TimeUnit.NANOSECONDS);
        } else {
            timer = null;
        }
    }

    /**
     * Starts checking every 5 s (trims after 5 s under 5% of a core, 32 MB grown); null where the C library cannot
     * trim or the process CPU time is not measurable.
     */
    public static IdleMemoryTrimmer start() {
        if (FreedMemory.release() < 0) {
            return null;
        }
        if (!(ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
                || os.getProcessCpuTime() < 0) {
            return null;
        }
        return new IdleMemoryTrimmer(Duration.ofSeconds(5), 0.05, 32L << 20, os::getProcessCpuTime,
                ProcessMemory::resident, IdleMemoryTrimmer::garbageCollections, FreedMemory::release, true);
    }

    private static long garbageCollections() {
        long count = 0;
        for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, gc.getCollectionCount());
        }
        return count;
    }

    /** One check; returns whether it trimmed. */
    boolean check() {
        try {
            long cpu = cpuNanos.getAsLong();
            double share = (double) (cpu - lastCpu) / periodNanos;
            lastCpu = cpu;
            long before = resident.getAsLong();
            long collected = collections.getAsLong();
            boolean grown = before >= residentAfterTrim + minGrowthBytes;
            if (share >= idleCpuShare || !grown && collected == collectionsAtTrim) {
                residentAfterTrim = Math.min(residentAfterTrim, before);
                return false;
            }
            trim.run();
            residentAfterTrim = resident.getAsLong();
            collectionsAtTrim = collected;
            trims++;
            if (before - residentAfterTrim >= minGrowthBytes) {
                LOG.info("idle: returned {} MB of freed native memory to the system (resident {} MB)",
                        (before - residentAfterTrim) >> 20, residentAfterTrim >> 20);
            }
            return true;
        } catch (RuntimeException e) {
            LOG.warn("cannot trim the C heap", e);
            return false;
        }
    }

    int trims() {
        return trims;
    }

    @Override
    public void close() {
        if (timer != null) {
            timer.shutdownNow();
        }
    }
}
