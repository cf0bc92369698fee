package dev.tuneforge.tuning;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PublicMessagesTest {
    @Test
    void absolutePathsBecomeTheirLastSegmentAndTheRestStays() {
        assertEquals("cannot read adapter_config.json: no such file",
                PublicMessages.withoutPaths("cannot read /srv/data/tunedModels/tm_x/adapter/adapter_config.json: no such file"));
        assertEquals("checkpoint.tmp: Read-only file system",
                PublicMessages.withoutPaths("/var/lib/tuneforge/tunedModels/tm_x/checkpoint.tmp: Read-only file system"));
        assertEquals("'tm_x' is gone", PublicMessages.withoutPaths("'/data/tunedModels/tm_x/' is gone"));
        assertEquals("see https://example.com/a/b and 1/2 of the steps",
                PublicMessages.withoutPaths("see https://example.com/a/b and 1/2 of the steps"));
        assertEquals("loss became NaN at step 5; lower the learning rate",
                PublicMessages.withoutPaths("loss became NaN at step 5; lower the learning rate"));
        assertEquals("", PublicMessages.withoutPaths(null));
    }
}
