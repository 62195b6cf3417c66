// A tiny VST3 effect built with the DISTRHO Plugin Framework (Debian's dpf-source) so that the
// tests can load a real plugin: y = gain * tanh(drive * x), optionally polarity-inverted.
// Parameters: "Drive" (1-20, float), "Gain" (-24..+6 dB, float), "Invert" (boolean).
#include "DistrhoPlugin.hpp"

#include <cmath>

START_NAMESPACE_DISTRHO

class DafxTestDrive : public Plugin {
public:
    DafxTestDrive() : Plugin(3, 0, 0) {}

protected:
    const char* getLabel() const override { return "DafxTestDrive"; }
    const char* getMaker() const override { return "DAFX Explorer"; }
    const char* getLicense() const override { return "MIT"; }
    uint32_t getVersion() const override { return d_version(1, 0, 0); }
    int64_t getUniqueId() const override { return d_cconst('D', 'x', 'T', 'd'); }

    void initParameter(uint32_t index, Parameter& parameter) override {
        parameter.hints = kParameterIsAutomatable;
        if (index == 0) {
            parameter.name = "Drive";
            parameter.symbol = "drive";
            parameter.ranges = ParameterRanges(2.0f, 1.0f, 20.0f);
        } else if (index == 1) {
            parameter.name = "Gain";
            parameter.symbol = "gain";
            parameter.unit = "dB";
            parameter.ranges = ParameterRanges(-6.0f, -24.0f, 6.0f);
        } else {
            parameter.name = "Invert";
            parameter.symbol = "invert";
            parameter.hints |= kParameterIsBoolean;
            parameter.ranges = ParameterRanges(0.0f, 0.0f, 1.0f);
        }
    }

    float getParameterValue(uint32_t index) const override { return values[index]; }
    void setParameterValue(uint32_t index, float value) override { values[index] = value; }

    void run(const float** inputs, float** outputs, uint32_t frames) override {
        const float gain = std::pow(10.0f, values[1] / 20.0f) * (values[2] > 0.5f ? -1.0f : 1.0f);
        for (uint32_t channel = 0; channel < 2; ++channel)
            for (uint32_t i = 0; i < frames; ++i)
                outputs[channel][i] = gain * std::tanh(values[0] * inputs[channel][i]);
    }

private:
    float values[3] = {2.0f, -6.0f, 0.0f};
};

Plugin* createPlugin() { return new DafxTestDrive(); }

END_NAMESPACE_DISTRHO
