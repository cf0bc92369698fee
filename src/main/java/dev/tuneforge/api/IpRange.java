package dev.tuneforge.api;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/** An IP address or a CIDR range of them ({@code 10.0.0.0/8}, {@code fd00::/8}, {@code 127.0.0.1}). */
public final class IpRange {
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");
    private final byte[] network;
    private final int prefixLength;
    private final String text;

    private IpRange(byte[] network, int prefixLength, String text) {
        this.network = network;
        this.prefixLength = prefixLength;
        this.text = text;
    }

    /** Parses {@code address} or {@code address/prefix}; IllegalArgumentException names what is wrong. */
    public static IpRange parse(String text) {
        String s = text.trim();
        int slash = s.indexOf('/');
        InetAddress address = literal(slash < 0 ? s : s.substring(0, slash));
        if (address == null) {
            throw new IllegalArgumentException("'" + text + "' is not an IP address or CIDR range");
        }
        int bits = address.getAddress().length * 8;
        int prefix = bits;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(s.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > bits) {
                throw new IllegalArgumentException("'" + text + "' has a prefix length outside 0-" + bits);
            }
        }
        return new IpRange(address.getAddress(), prefix, s);
    }

    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length != network.length) {
            return false;
        }
        int full = prefixLength / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != network[i]) {
                return false;
            }
        }
        int rest = prefixLength % 8;
        if (rest == 0) {
            return true;
        }
        int mask = 0xff << (8 - rest) & 0xff;
        return (a[full] & mask) == (network[full] & mask);
    }

    /**
     * An IP address written as a literal ({@code [::1]} brackets allowed), or null for anything else: never a host
     * name, so no DNS lookup is made for text a client sent.
     */
    static InetAddress literal(String text) {
        String s = text.trim();
        if (s.startsWith("[") && s.endsWith("]")) {
            s = s.substring(1, s.length() - 1);
        }
        try {
            if (IPV4.matcher(s).matches()) {
                String[] parts = s.split("\\.");
                byte[] bytes = new byte[4];
                for (int i = 0; i < 4; i++) {
                    int octet = Integer.parseInt(parts[i]);
                    if (octet > 255) {
                        return null;
                    }
                    bytes[i] = (byte) octet;
                }
                return InetAddress.getByAddress(bytes);
            }
            // text with a colon is parsed as an IPv6 literal by getByName, never looked up
            return IPV6.matcher(s).matches() ? InetAddress.getByName(s) : null;
        } catch (UnknownHostException e) {
            return null;
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
