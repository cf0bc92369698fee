package dev.tuneforge.tuning;

/**
 * A tuned model whose stored files cannot be read: a fault of the server's storage, not of the request (INTERNAL).
 * The message names the model and what is wrong, never where the server keeps its files.
 */
public final class DamagedModelException extends ServiceException {
    public DamagedModelException(String modelName, String reason) {
        super(Code.INTERNAL, modelName + " is damaged: " + reason + "; the server's operators have been told");
    }
}
