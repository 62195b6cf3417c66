// Plugin description for the DPF build of the test plugin (see test_effects.py).
#ifndef DISTRHO_PLUGIN_INFO_H_INCLUDED
#define DISTRHO_PLUGIN_INFO_H_INCLUDED

#define DISTRHO_PLUGIN_BRAND "DAFX Explorer"
#define DISTRHO_PLUGIN_NAME "DafxTestDrive"
#define DISTRHO_PLUGIN_URI "urn:dafx-explorer:test-drive"
#define DISTRHO_PLUGIN_BRAND_ID Dafx
#define DISTRHO_PLUGIN_UNIQUE_ID Tdrv

#define DISTRHO_PLUGIN_HAS_UI 0
#define DISTRHO_PLUGIN_IS_RT_SAFE 1
#define DISTRHO_PLUGIN_NUM_INPUTS 2
#define DISTRHO_PLUGIN_NUM_OUTPUTS 2

#endif
