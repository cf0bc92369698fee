package dev.tuneforge.engine.data;

import dev.tuneforge.engine.train.TrainingExample;

import java.util.List;

/** The 15 number-sequence examples of Google's tuning tutorial (the seed of this project). */
public final class SeedExamples {
    private SeedExamples() {
    }

    public static final List<TrainingExample> NUMBERS = List.of(
            new TrainingExample("1", "2"),
            new TrainingExample("3", "4"),
            new TrainingExample("-3", "-2"),
            new TrainingExample("twenty two", "twenty three"),
            new TrainingExample("two hundred", "two hundred one"),
            new TrainingExample("ninety nine", "one hundred"),
            new TrainingExample("8", "9"),
            new TrainingExample("-98", "-97"),
            new TrainingExample("1,000", "1,001"),
            new TrainingExample("10,100,000", "10,100,001"),
            new TrainingExample("thirteen", "fourteen"),
            new TrainingExample("eighty", "eighty one"),
            new TrainingExample("one", "two"),
            new TrainingExample("three", "four"),
            new TrainingExample("seven", "eight"));

    /** Inputs the examples do not contain, as the tutorial tries them (Roman and Japanese numerals) and others. */
    public static final List<String> HELD_OUT = List.of("LXIII", "六", "5", "forty", "nine hundred");
}
