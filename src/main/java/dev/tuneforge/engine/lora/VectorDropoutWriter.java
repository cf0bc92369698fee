package dev.tuneforge.engine.lora;

import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * {@link DropoutDraws} in vector lanes, written into the mask tensor's memory: the SplitMix64 words of a whole
 * vector at once, each seen as four 16-bit draws and compared unsigned. Same output as the scalar fill.
 */
public final class VectorDropoutWriter implements DropoutDraws.NativeWriter {
    private static final VectorSpecies<Long> WORDS = LongVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> DRAWS = VectorSpecies.of(short.class, WORDS.vectorShape());

    public VectorDropoutWriter() {
    }

    @Override
    public void writeBf16(long address, int n, long key, long firstWord, int dropBelow, short keep) {
        MemorySegment out = MemorySegment.ofAddress(address).reinterpret(2L * n);
        int lanes = WORDS.length();
        int perVector = DRAWS.length();
        LongVector state = LongVector.zero(WORDS).addIndex(1).add(firstWord + 1).mul(DropoutDraws.GAMMA).add(key);
        LongVector advance = LongVector.broadcast(WORDS, lanes * DropoutDraws.GAMMA);
        ShortVector kept = ShortVector.broadcast(DRAWS, keep);
        ShortVector zero = ShortVector.zero(DRAWS);
        // unsigned comparison as a signed one with the sign bits flipped (the unsigned comparison operators were
        // renamed between JDK releases of the incubating API)
        ShortVector signFlip = ShortVector.broadcast(DRAWS, Short.MIN_VALUE);
        short threshold = (short) (dropBelow ^ 0x8000);
        int i = 0;
        for (; i + perVector <= n; i += perVector) {
            LongVector z = state;
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(DropoutDraws.MIX1);
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 27)).mul(DropoutDraws.MIX2);
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 31));
            VectorMask<Short> dropped = z.reinterpretAsShorts().lanewise(VectorOperators.XOR, signFlip)
                    .compare(VectorOperators.LT, threshold);
            kept.blend(zero, dropped).intoMemorySegment(out, 2L * i, ByteOrder.nativeOrder());
            state = state.add(advance);
        }
        if (i < n) {
            // the rest, fewer than a vector's draws: the scalar fill from the word where the vectors stopped
            short[] rest = new short[n - i];
            DropoutDraws.fill(rest, rest.length, key, firstWord + i / 4, dropBelow, keep);
            MemorySegment.copy(rest, 0, out, ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i, rest.length);
        }
    }
}
