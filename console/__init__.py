"""kafkaops.console"""
