package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.util.Locale;

/** Polls a tuning operation until done, drawing a progress bar with step, epoch and loss. */
final class TuningProgress {
    private TuningProgress() {
    }

    static JsonNode follow(ApiClient client, String operationName, int totalSteps) {
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("tuning").setInitialMax(totalSteps)
                .setStyle(ProgressBarStyle.ASCII).continuousUpdate().build()) {
            while (true) {
                JsonNode op = client.get("/v1/" + operationName);
                JsonNode meta = op.path("metadata");
                bar.stepTo(meta.path("completedSteps").asInt(0));
                JsonNode snaps = meta.path("snapshots");
                if (snaps.isArray() && !snaps.isEmpty()) {
                    JsonNode last = snaps.get(snaps.size() - 1);
                    bar.setExtraMessage(String.format(Locale.ROOT, "epoch %d loss %.4f", last.path("epoch").asInt(),
                            last.path("meanLoss").asDouble()));
                }
                if (op.path("done").asBoolean(false)) {
                    return op;
                }
                try {
                    Thread.sleep(250);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return op;
                }
            }
        }
    }
}
