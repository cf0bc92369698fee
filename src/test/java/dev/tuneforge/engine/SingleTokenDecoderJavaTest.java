package dev.tuneforge.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * {@link SingleTokenDecoderTest}'s checks on the Java decoder, which runs where the native team does not (Java 22
 * without the native library, or {@code TUNEFORGE_TEAM_DECODER=0}) and when the team is busy with another sequence.
 */
class SingleTokenDecoderJavaTest extends SingleTokenDecoderTest {
    @BeforeAll
    static void javaDecoder() {
        asChosen = false;
    }

    @AfterAll
    static void asChosenAgain() {
        asChosen = true;
    }
}
