package dev.tuneforge.tuning;

import dev.tuneforge.engine.train.StepReport;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Training progress of this process: {@code tuneforge_training_steps_total}, the step time
 * ({@code tuneforge_training_step_seconds}) and {@code tuneforge_training_steps_per_second}, the steps finished in
 * the last minute divided by its seconds.
 */
public final class TuningMetrics {
    private static final Duration WINDOW = Duration.ofMinutes(1);
    private final Counter steps;
    private final Timer stepTime;
    private final ConcurrentLinkedDeque<Long> recentSteps = new ConcurrentLinkedDeque<>();

    public TuningMetrics(MeterRegistry registry) {
        this.steps = Counter.builder("tuneforge.training.steps").description("training steps finished by this process")
                .register(registry);
        this.stepTime = Timer.builder("tuneforge.training.step").description("compute time of one training step")
                .register(registry);
        Gauge.builder("tuneforge.training.steps.per.second", this, TuningMetrics::stepsPerSecond)
                .description("training steps this process finished in the last minute, per second").register(registry);
    }

    /** Metrics that go nowhere (a service built without a registry, as in engine-level tests). */
    public static TuningMetrics none() {
        return new TuningMetrics(new SimpleMeterRegistry());
    }

    void stepDone(StepReport step) {
        steps.increment();
        stepTime.record(step.duration());
        recentSteps.addLast(System.nanoTime());
        forgetOld(System.nanoTime());
    }

    private double stepsPerSecond() {
        forgetOld(System.nanoTime());
        return recentSteps.size() / (double) WINDOW.toSeconds();
    }

    private void forgetOld(long now) {
        Long first;
        while ((first = recentSteps.peekFirst()) != null && now - first > WINDOW.toNanos()) {
            recentSteps.pollFirst();
        }
    }
}
