package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.NativeTeam;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java↔C contract: every member of the Java layouts ({@link TeamLayouts}) lies where the compiled C structs of
 * team_decoder.h have it, and every struct has the same size, so that a change on one side alone fails here.
 */
class TeamLayoutsTest {
    @Test
    void everyMemberLiesWhereTheCompiledStructHasIt() {
        // where gcc is, the library must have been built (NativeDecoderBuiltTest); without it there is no C to compare
        org.junit.jupiter.api.Assumptions.assumeTrue(
                NativeTeam.class.getResource("/native/linux-x86_64/libtuneforge-decoder.so") != null, "not built here");
        assertTrue(NativeTeam.layoutsReadable(), "the built library loads: " + NativeTeam.status());
        int members = 0;
        for (StructLayout struct : TeamLayouts.ALL) {
            String type = struct.name().orElseThrow();
            assertEquals(struct.byteSize(), NativeTeam.sizeOf(type), "sizeof(" + type + ")");
            for (MemoryLayout member : struct.memberLayouts()) {
                String field = member.name().orElseThrow(() -> new AssertionError(type + " has an unnamed member"));
                assertEquals(struct.byteOffset(MemoryLayout.PathElement.groupElement(field)),
                        NativeTeam.offsetOf(type, field), "offsetof(" + type + ", " + field + ")");
                members++;
            }
        }
        assertTrue(members > 30, members + " members checked");
        assertEquals(-1, NativeTeam.offsetOf("tf_model_t", "no_such_field"), "an unknown name is not found");
    }
}
